"""A real SQLite backend with injected outages, for failure tests (never used in production).

`FaultySqliteBackend` is the ordinary `SqliteBackend` (same files, locks, fsyncs and error
translation) whose connect, begin, execute, executemany, call and commit raise
`errors.DatabaseUnavailable` while an outage is on, exactly as a lost HANA connection surfaces
to the rest of the service, and whose ping reports the connection dead. The pool reacts to these
as it would in production: it discards the connection and reconnects with backoff.

An outage is on while `fail_now` is set (tests toggle it) or while the file at `flag_path`
exists (so a test can switch off the database of a server running in another process).

A server process under a failure test selects this backend through the environment: with
MODEL_ROUTER_FAULT_FLAG set to a file path, `from_environment(config)` returns a
FaultySqliteBackend for the configured SQLite file whose outage is that file's existence, and
`make_backend` uses it. Production never sets the variable; the hana backend ignores it. It is
deliberately not in the settings table: it is a test harness switch, not a setting to tune.

`lose_commit_acks` makes commit really commit and then raise, the ambiguous case of a connection
dropped after the server committed: the caller cannot know the rows are in. `stall_commit_s`
makes commit really commit and answer that much later: a server whose answer arrives after the
caller's deadline gave up on it (the rows are in, the caller spooled them too). `stall_s` makes
every statement wait that long first: a server that answers, slowly.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.db import errors
from app.db.sqlite import RouterConnection, SqliteBackend

log = logging.getLogger(__name__)
FLAG_ENV = "MODEL_ROUTER_FAULT_FLAG"


def from_environment(config, env: Mapping[str, str] | None = None) -> FaultySqliteBackend | None:
    """The faulty backend when `env` (default os.environ) names a fault flag file and the
    backend is sqlite; None otherwise, so `make_backend` builds the ordinary one."""
    flag = (os.environ if env is None else env).get(FLAG_ENV, "")
    if not flag or config.backend != "sqlite":
        return None
    log.warning("fault injection on: the database is down while %s exists", flag)
    return FaultySqliteBackend(
        config["sqlite.path"],
        flag_path=flag,
        busy_timeout_ms=config["sqlite.busy_timeout_ms"],
        statement_timeout_ms=config["sqlite.statement_timeout_ms"],
    )


class FaultySqliteBackend(SqliteBackend):
    """SqliteBackend whose calls fail with DatabaseUnavailable during an injected outage."""

    def __init__(
        self, path: str | Path, *, flag_path: str | Path | None = None, **kwargs: Any
    ) -> None:
        super().__init__(path, **kwargs)
        self.flag_path = None if flag_path is None else str(flag_path)
        self._fail = threading.Event()
        self._lose_acks = threading.Event()
        self._lock = threading.Lock()
        self.stall_commit_s = self.stall_s = 0.0
        self.faults = 0  # calls refused so far
        self.lost_acks = 0  # commits that committed and then reported a lost connection

    # -- switches -------------------------------------------------------------------------------

    @property
    def fail_now(self) -> bool:
        return self._fail.is_set() or (
            self.flag_path is not None and os.path.exists(self.flag_path)
        )

    @fail_now.setter
    def fail_now(self, value: bool) -> None:
        self._fail.set() if value else self._fail.clear()

    @property
    def lose_commit_acks(self) -> bool:
        return self._lose_acks.is_set()

    @lose_commit_acks.setter
    def lose_commit_acks(self, value: bool) -> None:
        self._lose_acks.set() if value else self._lose_acks.clear()

    def describe(self) -> str:
        return f"faulty-{super().describe()}"

    def _check(self, what: str) -> None:
        if self.fail_now:
            with self._lock:
                self.faults += 1
            raise errors.DatabaseUnavailable(f"injected outage: {what} on {self.path}")

    # -- the backend calls, each guarded -------------------------------------------------------

    def connect(self) -> RouterConnection:
        self._check("connect")
        return super().connect()

    def ping(self, conn: RouterConnection) -> bool:
        return not self.fail_now and super().ping(conn)

    def begin(self, conn: RouterConnection, *, immediate: bool = True) -> None:
        self._check("begin")
        super().begin(conn, immediate=immediate)

    def execute(
        self, conn: RouterConnection, sql: str, params: Any = (), cache: dict | None = None
    ) -> list[dict] | int:
        self._check("execute")
        if self.stall_s:
            time.sleep(self.stall_s)
        return super().execute(conn, sql, params, cache)

    def executemany(
        self, conn: RouterConnection, sql: str, rows: list, cache: dict | None = None
    ) -> int:
        self._check("executemany")
        return super().executemany(conn, sql, rows, cache)

    def call(self, conn: RouterConnection, name: str, params: dict) -> list[dict]:
        self._check("call")
        return super().call(conn, name, params)

    def commit(self, conn: RouterConnection) -> None:
        self._check("commit")
        super().commit(conn)
        if self.stall_commit_s:
            time.sleep(self.stall_commit_s)
        if self.lose_commit_acks:
            with self._lock:
                self.lost_acks += 1
            raise errors.DatabaseUnavailable("injected outage: connection lost after commit")
