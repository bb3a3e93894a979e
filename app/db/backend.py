"""The interface every database backend offers (SqliteBackend, HanaBackend), as aiosql's
adapters have one in its types.py: the pool, Database and the deploy step use nothing else, so
neither holds an `if dialect` or a line of dialect SQL.

Errors: every method raises app.db.errors types; `translate` maps a driver error to one.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from app.db import errors
from app.db.sqlfiles import Procedure, SqlCatalog


class Backend(Protocol):
    dialect: str  # "sqlite" or "hana": names the folders sql/<dialect>, migrations/<dialect>
    sql: SqlCatalog  # the dialect's views, procedures and named queries
    prepares_statements: bool  # True: the pool keeps a prepared-statement cache per connection

    def describe(self) -> str:
        """Where the database is, for logs and figures; never a password."""

    # -- connections and transactions ------------------------------------------------------

    def connect(self) -> Any: ...

    def ping(self, conn) -> bool: ...

    def time_limit(self, conn, seconds: float) -> AbstractContextManager[None]:
        """Bound lock waits and statements on `conn` to `seconds` from now, where the driver
        can (a caller with a deadline: app.db.deadline)."""

    def interrupt(self, conn) -> None:
        """Abort the statement running on `conn` now, from another thread."""

    def reset(self, conn) -> None:
        """Leave a returned connection with no open transaction."""

    def begin(self, conn, *, immediate: bool = True) -> None: ...

    def commit(self, conn) -> None: ...

    def rollback(self, conn) -> None: ...

    # -- statements --------------------------------------------------------------------------

    def execute(self, conn, sql: str, params: Any = (), cache: dict | None = None) -> Any:
        """Rows as dicts (lowercase keys) for a query, the row count otherwise."""

    def executemany(self, conn, sql: str, rows: list, cache: dict | None = None) -> int: ...

    def call(self, conn, name: str, params: dict) -> list[dict]:
        """Run procedure `name` of `sql.procedures`; its result set."""

    # -- errors ------------------------------------------------------------------------------

    def translate(self, exc: BaseException, conn=None) -> Exception:
        """The app.db.errors type for a driver error (`conn`: where it happened, if known)."""

    def classify(self, exc: BaseException) -> errors.ErrorClass: ...

    def is_connection_error(self, exc: BaseException) -> bool: ...

    # -- deploy: migrations, views, procedures ----------------------------------------------

    def yoyo_backend(self) -> Any:
        """A yoyo backend on this database, for applying and rolling back migrations (the
        schema owner's connection: it may create yoyo's tables)."""

    def begin_redeploy(self, conn) -> None:
        """Make ready to create every view of `sql.views` anew on `conn`."""

    def drop_view(self, conn, name: str) -> None:
        """Drop view `name` if it exists."""

    def discard_failed_view(self, conn, name: str) -> None:
        """After the statements of view `name` failed (a dependency not there yet): leave
        nothing half made for the next round."""

    def procedure_ddl(self, procedure: Procedure) -> list[str]:
        """Statements that deploy `procedure` (none where procedures run from their files)."""
