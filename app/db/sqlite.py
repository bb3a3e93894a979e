"""SQLite backend: the embedded default, same tables, views and procedure names as HANA.

Connections run in WAL mode with a busy timeout, foreign keys on, synchronous=FULL (an
acknowledged commit survives a crash of the process or the machine) and a per-statement time
limit through the progress handler. SQLite has no stored procedures: a procedure is a file of
statements (sql/sqlite/procedures) run in order inside the caller's transaction; its errors come
from the RAISE_ERROR(code, message) function registered on every connection.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.db import errors
from app.db.sqlfiles import load_catalog

_PROGRESS_STEPS = 20_000  # VM instructions between time-limit checks: cheap, still responsive


class _SignalRaised(Exception):
    """Raised inside RAISE_ERROR; carries our code across sqlite3's C boundary."""


class RouterConnection(sqlite3.Connection):
    """sqlite3 connection that remembers the last RAISE_ERROR and its statement deadline."""

    signal: tuple[int, str] | None = None
    deadline: float = 0.0
    until: float = math.inf  # a caller's deadline (time_limit): no statement runs past it


class SqliteBackend:
    dialect = "sqlite"
    prepares_statements = False  # sqlite3 caches prepared statements per connection itself

    def __init__(
        self, path: str | Path, *, busy_timeout_ms: int = 5000, statement_timeout_ms: int = 30000
    ) -> None:
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.statement_timeout_s = statement_timeout_ms / 1000.0 or math.inf  # 0: no limit
        self.sql = load_catalog("sqlite")

    @classmethod
    def from_config(cls, config) -> SqliteBackend:
        return cls(
            config["sqlite.path"],
            busy_timeout_ms=config["sqlite.busy_timeout_ms"],
            statement_timeout_ms=config["sqlite.statement_timeout_ms"],
        )

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    def yoyo_uri(self) -> str:
        return f"sqlite:///{Path(self.path).resolve()}"

    # -- connections -------------------------------------------------------------------------

    def connect(self) -> RouterConnection:
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000.0,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=512,
                factory=RouterConnection,
            )
        except OSError as exc:
            raise errors.DatabaseUnavailable(f"cannot open {self.path}: {exc.strerror}") from exc
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # 64 MiB page cache per connection: the analytics sorts over rollups stay in memory
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
        conn.create_function("RAISE_ERROR", 2, _raiser(conn))
        # always installed: a caller's deadline (time_limit) needs it even with no statement limit
        conn.set_progress_handler(_time_limit(conn), _PROGRESS_STEPS)
        return conn

    def ping(self, conn: RouterConnection) -> bool:
        try:
            conn.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    @contextmanager
    def time_limit(self, conn: RouterConnection, seconds: float) -> Iterator[None]:
        """Bound lock waits (busy timeout) and every statement (progress handler) on `conn` to
        `seconds` from now, for a caller with a deadline (app.db.deadline). The default busy
        timeout would make a write wait seconds behind another process's exclusive lock."""
        conn.until = time.monotonic() + seconds
        conn.execute(f"PRAGMA busy_timeout={max(1, int(seconds * 1000))}")
        try:
            yield
        finally:
            conn.until = math.inf
            try:
                conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            except sqlite3.Error:  # interrupted or closing: the pool's reset finds out
                pass

    def interrupt(self, conn: RouterConnection) -> None:
        """Abort the statement running on `conn` now (thread-safe; a no-op when idle)."""
        conn.interrupt()

    def reset(self, conn: RouterConnection) -> None:
        if conn.in_transaction:
            conn.rollback()

    def begin(self, conn: RouterConnection, *, immediate: bool = True) -> None:
        # IMMEDIATE takes the write lock at once, so two writers queue instead of deadlocking
        # on a read-to-write upgrade.
        self._run(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN", ())

    def commit(self, conn: RouterConnection) -> None:
        _before_deadline(conn)  # the caller gave up: a late commit would store what it spooled
        try:
            conn.commit()
        except sqlite3.Error as exc:
            raise self.translate(exc) from exc

    def rollback(self, conn: RouterConnection) -> None:
        conn.rollback()

    # -- statements --------------------------------------------------------------------------

    def execute(
        self, conn: RouterConnection, sql: str, params: Any = (), cache: dict | None = None
    ) -> list[dict] | int:
        """Run one statement: rows as dicts for a query, the row count otherwise."""
        cursor = self._run(conn, sql, params)
        if cursor.description is None:
            return cursor.rowcount
        columns = [d[0].lower() for d in cursor.description]
        try:  # rows are computed while fetched: the time limit can strike here too
            rows = cursor.fetchall()
        except sqlite3.Error as exc:
            raise self.translate(exc, conn) from exc
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def executemany(
        self, conn: RouterConnection, sql: str, rows: list, cache: dict | None = None
    ) -> int:
        conn.deadline = min(time.monotonic() + self.statement_timeout_s, conn.until)
        _before_deadline(conn)
        try:
            return conn.executemany(sql, rows).rowcount
        except sqlite3.Error as exc:
            raise self.translate(exc, conn) from exc

    def call(self, conn: RouterConnection, name: str, params: dict) -> list[dict]:
        """Run procedure `name` in the caller's transaction; its last SELECT is the result."""
        procedure = self.sql.procedures[name]
        _check_params(name, procedure.params, params)
        result: list[dict] | int = []
        for statement in procedure.statements:
            result = self.execute(conn, statement, params)
        return result if isinstance(result, list) else []

    def _run(self, conn: RouterConnection, sql: str, params: Any) -> sqlite3.Cursor:
        conn.signal = None
        conn.deadline = min(time.monotonic() + self.statement_timeout_s, conn.until)
        _before_deadline(conn)
        try:
            return conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise self.translate(exc, conn) from exc

    # -- errors ------------------------------------------------------------------------------

    def translate(self, exc: BaseException, conn: RouterConnection | None = None) -> Exception:
        """Map a sqlite3 error to app.db.errors (the three classes of HANA_NOTES)."""
        if conn is not None and conn.signal is not None:
            code, message = conn.signal
            conn.signal = None
            return errors.ProcedureError(code, message)
        text = str(exc)
        lowered = text.lower()
        if isinstance(exc, sqlite3.IntegrityError):
            if "unique" in lowered or "primary key" in lowered:
                return errors.UniqueViolation(text)
            return errors.ConstraintViolation(text)
        if lowered.startswith("no such table") or lowered.startswith("no such view"):
            return errors.MissingObject(text)
        if "interrupted" in lowered:  # our progress-handler time limit (HANA's 613)
            return errors.StatementTimeout(text)
        if "locked" in lowered or "busy" in lowered:
            return errors.TransientError(text)
        if (
            "unable to open" in lowered
            or "disk is full" in lowered
            or "disk i/o" in lowered
            or "closed database" in lowered
            or "malformed" in lowered
            or "readonly" in lowered
        ):
            return errors.DatabaseUnavailable(text)
        return errors.DatabaseError(text)

    # -- deploy ------------------------------------------------------------------------------

    def yoyo_backend(self):
        from yoyo.connections import get_backend

        self.connect().close()  # creates the file and its directory, which yoyo does not
        return get_backend(self.yoyo_uri())

    def begin_redeploy(self, conn: RouterConnection) -> None:
        """One transaction that drops every view first: SQLite has no CREATE OR REPLACE VIEW,
        and views depend on each other."""
        self.begin(conn)
        for name in self.sql.views:
            self.drop_view(conn, name)

    def drop_view(self, conn: RouterConnection, name: str) -> None:
        self._run(conn, f'DROP VIEW IF EXISTS "{name}"', ())

    discard_failed_view = drop_view

    def procedure_ddl(self, procedure) -> list[str]:
        return []  # a SQLite procedure is its file of statements, run at call time

    def classify(self, exc: BaseException) -> errors.ErrorClass:
        if isinstance(exc, errors.DatabaseError):
            return exc.error_class
        if isinstance(exc, sqlite3.Error):
            return self.translate(exc).error_class
        return errors.ErrorClass.FATAL

    def is_connection_error(self, exc: BaseException) -> bool:
        return self.classify(exc) is errors.ErrorClass.CONNECTION_LOST


def _check_params(name: str, expected: tuple[str, ...], given: dict) -> None:
    if set(given) != set(expected):
        raise TypeError(
            f"{name} takes {', '.join(expected) or 'no parameters'}; "
            f"got {', '.join(sorted(given)) or 'none'}"
        )


def _raiser(conn: RouterConnection):
    def raise_error(code, message):
        conn.signal = (int(code), str(message))
        raise _SignalRaised(message)

    return raise_error


def _before_deadline(conn: RouterConnection) -> None:
    """No statement starts past a caller's deadline: the progress handler only looks every
    _PROGRESS_STEPS instructions, so a short statement (BEGIN, COMMIT) would slip through."""
    if time.monotonic() > conn.until:
        raise errors.TransientError("interrupted: the caller's deadline has passed")


def _time_limit(conn: RouterConnection):
    def handler() -> int:
        return 1 if time.monotonic() > conn.deadline else 0  # non-zero interrupts the statement

    return handler
