"""Docs stay true: what README.md and docs/*.md name must exist.

- commands: `make X` is a Makefile target, `model-router X [Y]` a subcommand of the CLI's
  parser, `python -m bench X` a benchmark;
- settings: a dotted setting name (`pool.max_connections`) or a setting's environment variable
  (`HANA_POOL_MAX`) in inline code or a code block is a setting of app/config.py;
- endpoints: `GET /api/v1/...` mentions and the curl commands of code blocks match a route of the
  app (its url_map, built by create_app on a migrated temporary database) with that method;
- paths: a repository path in inline code (`sql/hana/roles.sql`) and a relative link exist;
- docs/API_CHANGES.md names every API route, so a new endpoint cannot go undocumented.

Code is read from inline code spans and fenced blocks only, so prose ("make sure") is not taken
for a command.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from app.cli import build_parser
from app.config import BY_ENV, BY_NAME

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
API_DOC = ROOT / "docs" / "API_CHANGES.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Variables that are not settings on purpose: test and harness switches, the demo client's key.
NOT_SETTINGS = {
    "HANA_TEST_URL",
    "HANA_TEST_SERVICE_URL",
    "MODEL_ROUTER_FAULT_FLAG",
    "MODEL_ROUTER_API_KEY",
}
SECTIONS = sorted({name.split(".")[0] for name in BY_NAME})
REPO_TOP = {"app", "sql", "migrations", "config", "docker", "docs", "bench", "tests", ".ci"}
# Files the docs name that are made at run time and kept out of git.
GENERATED = {
    "docker/.env",
    "docker/secrets/hxe-passwords.json",
    "bench/results",
    "bench/results/latest.json",
}

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_MAKE = re.compile(r"(?:^|[\s;&|(])make\s+([A-Za-z][\w-]*)")
_CLI = re.compile(r"(?:^|[\s/;&|(])model-router((?:[ \t]+[a-z][\w-]*)+)")
_BENCH = re.compile(r"python -m bench((?:[ \t]+[a-z_]+)*)")
_SETTING = re.compile(rf"(?<![\w./-])((?:{'|'.join(SECTIONS)})\.[a-z_]+)(?![\w.])")
_ENV = re.compile(r"(?<![\w$/])((?:HANA|MODEL_ROUTER)_[A-Z0-9_]+)\b(?!\.\w)")
_VERB = "|".join(METHODS)
_ENDPOINT = re.compile(rf"\b((?:{_VERB})(?:/(?:{_VERB}))*)\s+(/[^\s`'\")\],;]*)")
_CURL_URL = re.compile(r"\$BASE(/[^\s\"'?]*)")
_PATH = re.compile(r"^(?:\.ci|[a-z]+)(?:/[\w.*-]+)+/?$")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def code(path: Path) -> list[str]:
    """The inline code spans and fenced code blocks of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    blocks = _FENCE.findall(text)
    return blocks + _SPAN.findall(_FENCE.sub("", text))


def spans(path: Path) -> list[str]:
    return _SPAN.findall(_FENCE.sub("", path.read_text(encoding="utf-8")))


def doc_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", text, re.MULTILINE))


def cli_commands() -> dict[str, set[str]]:
    """Top-level subcommands → their own subcommands (empty when they take none)."""

    def choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    return {name: set(choices(sub)) for name, sub in choices(build_parser()).items()}


def test_the_docs_exist():
    names = {p.name for p in DOCS}
    assert {"HANA_INTEGRATION_GUIDE.md", "API_CHANGES.md", "PERFORMANCE_BENCHMARKS.md"} <= names


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_make_targets_exist(doc):
    named = {t for chunk in code(doc) for t in _MAKE.findall(chunk)}
    assert not named - make_targets(), f"no such make target: {named - make_targets()}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_cli_commands_exist(doc):
    commands, wrong = cli_commands(), []
    for chunk in code(doc):
        for words in _CLI.findall(chunk):
            first, *rest = words.split()
            if first not in commands:
                wrong.append(first)
            elif commands[first] and (not rest or rest[0] not in commands[first]):
                wrong.append(f"{first} {rest[0] if rest else ''}".strip())
    assert not wrong, f"not commands of model-router: {wrong}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_benchmarks_exist(doc):
    known = {p.stem for p in (ROOT / "bench").glob("*.py") if not p.stem.startswith("_")}
    named = {n for chunk in code(doc) for words in _BENCH.findall(chunk) for n in words.split()}
    assert not named - known, f"no such benchmark: {named - known}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_settings_exist(doc):
    chunks = code(doc)
    names = {n for chunk in chunks for n in _SETTING.findall(chunk)}
    envs = {e for chunk in chunks for e in _ENV.findall(chunk)} - NOT_SETTINGS
    assert not names - set(BY_NAME), f"no such setting: {names - set(BY_NAME)}"
    assert not envs - set(BY_ENV), f"no such setting variable: {envs - set(BY_ENV)}"


def mentioned_endpoints(doc: Path) -> set[tuple[str, str]]:
    """(method, path) named in the text or by the curl commands of its code blocks."""
    text = doc.read_text(encoding="utf-8")
    found = {
        (method, path) for methods, path in _ENDPOINT.findall(text) for method in methods.split("/")
    }
    for block in _FENCE.findall(text):
        for command in re.split(r"\n(?!\s)", block.replace("\\\n", " ")):
            for path in _CURL_URL.findall(command):
                explicit = re.search(r"-X\s+([A-Z]+)", command)
                method = explicit.group(1) if explicit else ("POST" if " -d " in command else "GET")
                found.add((method, path))
    return found


def template(path: str) -> str:
    """A documented path without its query, each placeholder or shell variable as {}."""
    path = path.split("?")[0].rstrip(".:")
    return re.sub(r"\{[^}/]+\}|<[^>/]+>|\$\{?\w+\}?", "{}", path)


def concrete(path: str) -> str:
    """A documented path as a request path: placeholders filled with a sample value."""
    return template(path).replace("{}", "1")


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_endpoints_exist(doc, app):
    adapter = app.url_map.bind("localhost")
    wrong = []
    for method, path in sorted(mentioned_endpoints(doc)):
        try:
            adapter.match(concrete(path), method=method)
        except (NotFound, MethodNotAllowed, RequestRedirect) as exc:
            wrong.append(f"{method} {path} ({type(exc).__name__})")
    assert not wrong, f"endpoints that do not exist: {wrong}"


def test_api_changes_names_every_api_route(app):
    documented = {(m, template(p)) for m, p in mentioned_endpoints(API_DOC)}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):
            continue
        shape = re.sub(r"<[^>]+>", "{}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if (method, shape) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert not missing, f"routes missing from docs/API_CHANGES.md: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=doc_id)
def test_repository_paths_and_links_exist(doc):
    paths = [
        s
        for s in spans(doc)
        if _PATH.match(s) and s.split("/")[0] in REPO_TOP and s.rstrip("/") not in GENERATED
    ]
    text = doc.read_text(encoding="utf-8")
    links = [doc.parent / link for link in _LINK.findall(text) if "://" not in link]
    missing = [p for p in paths if not any(ROOT.glob(p.rstrip("/")))]
    missing += [str(link) for link in links if not link.exists()]
    assert not missing, f"no such file: {missing}"


def test_the_checks_catch_what_they_are_for(tmp_path, app):
    """Each check above rejects a wrong name (so a passing run means something)."""
    doc = tmp_path / "wrong.md"
    doc.write_text(
        "Run `make deploy` and `model-router keys rotate`; set `pool.max_conns` or "
        "`HANA_POOL_MAXIMUM`; call `DELETE /api/v1/route` and `GET /api/v1/nope`.\n"
        '```sh\ncurl -sf -X PUT "$BASE/api/v1/models"\n```\n'
    )
    chunks = code(doc)
    assert {t for c in chunks for t in _MAKE.findall(c)} - make_targets() == {"deploy"}
    assert "rotate" not in cli_commands()["keys"]
    assert {n for c in chunks for n in _SETTING.findall(c)} == {"pool.max_conns"}
    assert {e for c in chunks for e in _ENV.findall(c)} == {"HANA_POOL_MAXIMUM"}
    adapter = app.url_map.bind("localhost")
    for method, path in mentioned_endpoints(doc):
        with pytest.raises((NotFound, MethodNotAllowed)):
            adapter.match(concrete(path), method=method)
    assert len(mentioned_endpoints(doc)) == 3
