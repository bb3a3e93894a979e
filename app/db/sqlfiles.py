"""Loads the SQL objects of one dialect from sql/<dialect>/: views, procedures, named queries.

Python holds no SQL strings; every statement is read from these files once per process.
Named queries use aiosql's `-- name: verb-noun` blocks. SQLite "procedures" are files of
statements with a `-- params:` header, run in order by the SQLite backend.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SQL_ROOT = Path(__file__).resolve().parents[2] / "sql"
MIGRATIONS_ROOT = Path(__file__).resolve().parents[2] / "migrations"

_NAME = re.compile(r"^--\s*name:\s*([A-Za-z0-9_\-]+)\s*$", re.MULTILINE)
_PARAMS = re.compile(r"^--\s*params:(.*)$", re.MULTILINE)
_HANA_SIGNATURE = re.compile(
    r"PROCEDURE\s+(\w+)\s*\((.*?)\)\s*(LANGUAGE|SQL|READS|AS)\b", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Procedure:
    name: str
    params: tuple[str, ...]
    text: str
    statements: tuple[str, ...]  # SQLite: the statements in order; HANA: the one CREATE


@dataclass(frozen=True)
class SqlCatalog:
    dialect: str
    views: dict[str, str]
    procedures: dict[str, Procedure]
    queries: dict[str, str]


def split_statements(text: str) -> list[str]:
    """Split a script into complete statements (sqlite3 knows where a statement ends)."""
    statements, buffer = [], []
    for line in text.splitlines(keepends=True):
        buffer.append(line)
        chunk = "".join(buffer)
        if line.rstrip().endswith(";") and sqlite3.complete_statement(chunk):
            stripped = _strip_comments(chunk)
            if stripped:
                statements.append(stripped)
            buffer = []
    rest = _strip_comments("".join(buffer))
    if rest:
        statements.append(rest)
    return statements


def _strip_comments(chunk: str) -> str:
    lines = [ln for ln in chunk.splitlines() if not ln.strip().startswith("--")]
    text = "\n".join(lines).strip()
    return text[:-1].rstrip() if text.endswith(";") else text


_NAMED_OR_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(?<!:):([A-Za-z_]\w*)")


def to_qmark(sql: str) -> tuple[str, tuple[str, ...]]:
    """`:name` placeholders → `?` plus the names in order (quoted text and `::` left alone).

    hdbcli's prepared statements bind by position; the named queries of sql/ stay readable.
    """
    names: list[str] = []

    def sub(match: re.Match) -> str:
        if match.group(1) is None:
            return match.group(0)  # a string literal or quoted identifier
        names.append(match.group(1))
        return "?"

    return _NAMED_OR_LITERAL.sub(sub, sql), tuple(names)


def parse_queries(text: str) -> dict[str, str]:
    """`-- name: x` blocks → {x: statement}."""
    parts = _NAME.split(text)
    queries = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        statements = split_statements(body)
        if len(statements) != 1:
            raise ValueError(f"query {name}: expected one statement, found {len(statements)}")
        queries[name] = statements[0]
    return queries


def procedure_params(dialect: str, text: str, name: str) -> tuple[str, ...]:
    if dialect == "sqlite":
        match = _PARAMS.search(text)
        if not match:
            raise ValueError(f"{name}: missing '-- params:' header")
        return tuple(p.strip().lower() for p in match.group(1).split(",") if p.strip())
    match = _HANA_SIGNATURE.search(text)
    if not match:
        raise ValueError(f"{name}: no CREATE PROCEDURE signature found")
    params = []
    for part in _split_top_level(match.group(2)):
        words = part.split()
        if not words:
            continue
        if words[0].upper() in ("IN", "OUT", "INOUT"):
            if words[0].upper() != "IN":
                continue  # OUT parameters are results, not arguments
            words = words[1:]
        params.append(words[0].lower())
    return tuple(params)


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


@cache
def load_catalog(dialect: str, root: Path = SQL_ROOT) -> SqlCatalog:
    base = root / dialect
    views = {p.stem: p.read_text(encoding="utf-8") for p in sorted(base.glob("views/*.sql"))}
    procedures = {}
    for path in sorted(base.glob("procedures/*.sql")):
        text = path.read_text(encoding="utf-8")
        statements = tuple(split_statements(text)) if dialect == "sqlite" else (text,)
        procedures[path.stem] = Procedure(
            path.stem, procedure_params(dialect, text, path.stem), text, statements
        )
    queries: dict[str, str] = {}
    for path in sorted(base.glob("queries/*.sql")):
        for name, sql in parse_queries(path.read_text(encoding="utf-8")).items():
            if name in queries:
                raise ValueError(f"query {name} defined twice ({path.name})")
            queries[name] = sql
    return SqlCatalog(dialect, views, procedures, queries)
