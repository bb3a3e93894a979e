"""Durable local spool: where acknowledged rows wait while the database is unavailable.

The writer acknowledges a request only when its rows are durable. When the database is down it
appends them here instead: a SQLite file in WAL mode with synchronous=FULL, so a committed append
is fsynced and survives a crash of the process or the machine. Rows keep their arrival order
(`seq`), and the writer replays them in that order, deleting them only after the database
committed them (the replay is idempotent on DECISION_ID, so a crash between the database commit
and the delete cannot count a row twice).

Each row carries a key (its DECISION_ID) that is unique per kind, so a second outcome for a
decision is refused here too, while it waits in the spool. A row the database refuses for good
(e.g. a foreign key nobody can satisfy) moves to the dead-letter table with its error, so one bad
row can neither block the replay nor be lost silently.

The SQL below is private to this file format (it is not part of the router's schema, and never
runs on HANA), so it lives next to the code that owns the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.db import errors

# AUTOINCREMENT: a sequence number is never reused, even after the spool was emptied, so seq
# orders rows across the file's whole life and a dead letter keeps a unique seq.
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS spool (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         kind TEXT NOT NULL,
         key TEXT NOT NULL,
         payload TEXT NOT NULL,
         spooled_at REAL NOT NULL)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS spool_kind_key ON spool (kind, key)",
    """CREATE TABLE IF NOT EXISTS dead_letters (
         seq INTEGER NOT NULL PRIMARY KEY,
         kind TEXT NOT NULL,
         key TEXT NOT NULL,
         payload TEXT NOT NULL,
         error TEXT NOT NULL,
         failed_at REAL NOT NULL)""",
)
_INSERT = "INSERT INTO spool (kind, key, payload, spooled_at) VALUES (?, ?, ?, ?)"
_HAS_KEY = "SELECT 1 FROM spool WHERE kind = ? AND key = ?"
_PEEK = "SELECT seq, kind, key, payload FROM spool ORDER BY seq LIMIT ?"
_DELETE = "DELETE FROM spool WHERE seq = ?"
_DEAD = (
    "INSERT INTO dead_letters (seq, kind, key, payload, error, failed_at) VALUES (?, ?, ?, ?, ?, ?)"
)
_DEPTH = "SELECT COUNT(*) FROM spool"
_DEAD_DEPTH = "SELECT COUNT(*) FROM dead_letters"
_DEAD_ROWS = "SELECT seq, kind, key, payload, error FROM dead_letters ORDER BY seq"


class SpoolError(Exception):
    """The spool file cannot be opened or written (disk full, permissions, corruption)."""


@dataclass(frozen=True)
class SpoolEntry:
    """One spooled row: `kind` is "decision" or "outcome", `key` its DECISION_ID."""

    seq: int
    kind: str
    key: str
    row: dict


Item = tuple[str, str, dict]  # (kind, key, row) as given to append()


class Spool:
    """A durable FIFO of rows in one SQLite file; thread-safe, shared by processes via locks."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def from_config(cls, config) -> Spool:
        return cls(config["spool.path"], busy_timeout_ms=config["sqlite.busy_timeout_ms"])

    def __repr__(self) -> str:
        return f"Spool({self.path})"

    # -- lifecycle ------------------------------------------------------------------------------

    def open(self) -> Spool:
        """Open (creating if needed) the file; idempotent. Raises SpoolError."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
        return self

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000.0,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # every commit fsyncs the WAL
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            for statement in _SCHEMA:
                conn.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"spool {self.path}: {exc}") from exc
        return conn

    # -- writing ----------------------------------------------------------------------------------

    def append(self, groups: Sequence[Sequence[Item]]) -> list[Exception | None]:
        """Append groups of rows in order, in one fsynced transaction; all or nothing per group.

        Returns, per group, None when it was appended, or the error that refused it (nothing of
        it written): errors.UniqueViolation when one of its keys is already spooled for that kind
        (or earlier in the same call), TypeError when a row is not JSON-serialisable. Raises
        SpoolError when the file cannot be written: then nothing was appended.
        """
        now = time.time()
        results: list[Exception | None] = []
        with self._locked(write=True) as conn:
            for group in groups:
                error = None
                try:
                    rows = [(kind, key, _dumps(row), now) for kind, key, row in group]
                except (TypeError, ValueError) as exc:
                    error = TypeError(f"row cannot be spooled: {exc}")
                else:
                    error = _duplicate(conn, group)
                if error is None:
                    conn.executemany(_INSERT, rows)
                results.append(error)
        return results

    def delete(self, seqs: Iterable[int]) -> None:
        """Forget entries the database has committed (one fsynced transaction)."""
        with self._locked(write=True) as conn:
            conn.executemany(_DELETE, [(seq,) for seq in seqs])

    def dead_letter(self, entry: SpoolEntry, error: str) -> None:
        """Move an entry the database refuses for good to dead_letters, atomically."""
        with self._locked(write=True) as conn:
            conn.execute(
                _DEAD,
                (entry.seq, entry.kind, entry.key, _dumps(entry.row), error[:1000], time.time()),
            )
            conn.execute(_DELETE, (entry.seq,))

    # -- reading ----------------------------------------------------------------------------------

    def peek(self, limit: int) -> list[SpoolEntry]:
        """The oldest `limit` entries, in order, without removing them."""
        with self._locked() as conn:
            rows = conn.execute(_PEEK, (limit,)).fetchall()
        return [SpoolEntry(seq, kind, key, json.loads(payload)) for seq, kind, key, payload in rows]

    def depth(self) -> int:
        """Rows waiting for the database."""
        with self._locked() as conn:
            return conn.execute(_DEPTH).fetchone()[0]

    def dead_depth(self) -> int:
        """Rows the database refused for good."""
        with self._locked() as conn:
            return conn.execute(_DEAD_DEPTH).fetchone()[0]

    def dead_letters(self) -> list[dict]:
        """Refused entries with their errors, oldest first (for operators and tests)."""
        with self._locked() as conn:
            rows = conn.execute(_DEAD_ROWS).fetchall()
        return [
            {"seq": seq, "kind": kind, "key": key, "row": json.loads(payload), "error": error}
            for seq, kind, key, payload, error in rows
        ]

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection under the thread lock; with write=True inside BEGIN IMMEDIATE (one
        writer across processes), committed on success and rolled back on any exception."""
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn
            try:
                if write:
                    conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    if write:
                        _rollback_quietly(conn)
                    raise
                if write:
                    conn.commit()
            except sqlite3.Error as exc:
                _rollback_quietly(conn)
                raise SpoolError(f"spool {self.path}: {exc}") from exc


def _duplicate(conn: sqlite3.Connection, group: Sequence[Item]) -> Exception | None:
    keys = [(kind, key) for kind, key, _ in group]
    if len(set(keys)) != len(keys):
        return errors.UniqueViolation("the same row appears twice in one request")
    for kind, key in keys:
        if conn.execute(_HAS_KEY, (kind, key)).fetchone():
            return errors.UniqueViolation(f"{kind} {key} is already recorded (spooled)")
    return None


def _rollback_quietly(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.rollback()
    except sqlite3.Error:
        pass  # the connection is unusable; the next call reports it


def _dumps(row: dict) -> str:
    return json.dumps(row, separators=(",", ":"), sort_keys=True)
