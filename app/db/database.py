"""The one place that owns connections: a backend chosen from configuration plus its pool.

Callers use `transaction()` for writes (commit on success, roll back on any exception) and
`read()` for reads, and run named SQL through `query`, `execute`, `executemany` and `call`.
Transient errors (lock waits, deadlocks) are retried by `run_in_transaction` with backoff.

Inside a call with a deadline (app.db.deadline) every borrow waits at most what is left of it and
the backend bounds the connection to it; `bounded(fn, ...)` is how the request path reads: a
request waits `request_deadline_s` at most, then gets DeadlineExceeded (503 with Retry-After).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from app.config import BY_NAME
from app.db import deadline, errors
from app.db.backend import Backend
from app.db.pool import ConnectionPool, PoolError
from app.db.retry import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_backend(config):
    """The dialect is chosen from configuration alone (STYLE item 2)."""
    if config.backend == "hana":
        from app.db.hana import HanaBackend

        return HanaBackend.from_config(config)
    from app.db import faults
    from app.db.sqlite import SqliteBackend

    # faults: only when MODEL_ROUTER_FAULT_FLAG names a file (outage tests of a real server)
    return faults.from_environment(config) or SqliteBackend.from_config(config)


@dataclass(frozen=True)
class PoolSettings:
    """The pool's sizes and timers (seconds), from the pool.* settings."""

    min_size: int = 5
    max_size: int = 10
    idle_timeout: float = 30.0
    acquire_timeout: float = 5.0
    health_check_interval: float = 60.0
    validation_window: float = 0.5
    leak_threshold: float = 30.0

    @classmethod
    def from_config(cls, config) -> PoolSettings:
        return cls(
            min_size=config["pool.min_connections"],
            max_size=config["pool.max_connections"],
            idle_timeout=config.seconds("pool.idle_timeout_ms"),
            acquire_timeout=config.seconds("pool.connection_timeout_ms"),
            health_check_interval=config.seconds("pool.health_check_interval_ms"),
            validation_window=config.seconds("pool.validation_window_ms"),
            leak_threshold=config.seconds("pool.leak_threshold_ms"),
        )


class Database:
    def __init__(
        self,
        backend: Backend,
        *,
        pool: PoolSettings | None = None,
        backoff: Backoff | None = None,
        request_deadline_s: float = 0.2,
        request_workers: int = 4,
    ) -> None:
        """`backoff` retries connects (its `retries`) and transient errors of transactions
        (`retries - 1`: retry.max_attempts counts a transaction's attempts in all)."""
        self.backend = backend
        self.request_deadline_s = request_deadline_s
        # few workers: while the database is deaf each holds a connection until the backend's
        # own timeouts end it; further reads wait their deadline in the queue and answer 503
        self.requests = deadline.Deadlines("db-request", workers=request_workers)
        self.dialect = backend.dialect
        self.backoff = backoff or Backoff(budget=BY_NAME["retry.budget_ms"].default / 1000.0)
        self.pool = ConnectionPool(
            backend.connect,
            **vars(pool or PoolSettings()),
            # a connect retries its whole schedule: the budget bounds transactions only
            backoff=self.backoff.with_(budget=math.inf),
            is_connection_error=backend.is_connection_error,
            ping=backend.ping,
            reset=backend.reset,
            name=backend.dialect,
        )

    @classmethod
    def from_config(cls, config) -> Database:
        return cls(
            make_backend(config),
            pool=PoolSettings.from_config(config),
            backoff=Backoff.from_config(config),
            request_deadline_s=config.seconds("db.request_deadline_ms"),
        )

    def __repr__(self) -> str:
        return f"Database({self.backend.describe()})"

    def start(self) -> None:
        self.pool.start()

    def close(self) -> None:
        self.requests.close()
        self.pool.close()

    # -- connections and transactions ---------------------------------------------------------

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[Any]:
        """A pooled connection; PoolTimeout after `timeout` (default: the pool's) becomes
        DatabaseUnavailable. Inside a call with a deadline, both the borrow and the connection
        are bounded by what is left of it."""
        job = deadline.current()
        if job is not None:
            left = job.remaining()
            timeout = left if timeout is None else min(timeout, left)
        try:
            with self.pool.connection(timeout) as conn:
                if job is None:
                    yield conn
                    return
                with (
                    job.holding(conn, self.backend.interrupt),
                    self.backend.time_limit(conn, job.remaining()),
                ):
                    yield conn
        except PoolError as exc:
            raise errors.DatabaseUnavailable(str(exc)) from exc

    def bounded(self, fn: Callable[..., T], *args: Any, seconds: float | None = None) -> T:
        """fn(*args) (reads of the request path) within `seconds` (default request_deadline_s);
        DeadlineExceeded when the database does not answer in time."""
        return self.requests.run(lambda: fn(*args), seconds or self.request_deadline_s)

    @contextmanager
    def read(self) -> Iterator[Any]:
        """A connection for reads; the pool rolls back whatever the reader left open."""
        with self.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[Any]:
        """One write transaction: commit on success, roll back on any exception; the borrow
        waits at most `timeout` (default: the pool's)."""
        with self.connection(timeout) as conn:
            self.backend.begin(conn)
            try:
                yield conn
            except BaseException:
                try:
                    self.backend.rollback(conn)
                except Exception:  # the pool discards a connection it cannot reset
                    log.warning("rollback failed on %s", self.backend.describe())
                raise
            self.backend.commit(conn)

    def run_in_transaction(self, work: Callable[[Any], T], *, attempts: int | None = None) -> T:
        """Run work(conn) in a transaction; retry transient errors (lock waits, deadlocks) with
        the database's backoff (app.db.retry), `attempts` in all, and none that would start
        after its budget (retry.budget_ms): a lock wait can last a statement timeout, and three
        of them would hold a request for minutes. A StatementTimeout is not a TransientError and
        is never retried."""
        retries = (attempts or self.backoff.retries) - 1

        def once() -> T:
            with self.transaction() as conn:
                return work(conn)

        return self.backoff.with_(retries=retries).call(once, retry_if=errors.is_transient)

    def _statements(self, conn) -> dict | None:
        """The connection's prepared-statement cache, for backends that prepare explicitly
        (hdbcli); sqlite3 keeps its own per-connection statement cache."""
        return self.pool.statement_cache(conn) if self.backend.prepares_statements else None

    def query(self, conn, name: str, params: Any = ()) -> list[dict]:
        sql = self.backend.sql.queries[name]
        result = self.backend.execute(conn, sql, params, self._statements(conn))
        return result if isinstance(result, list) else []

    def execute(self, conn, name: str, params: Any = ()) -> int:
        sql = self.backend.sql.queries[name]
        result = self.backend.execute(conn, sql, params, self._statements(conn))
        return result if isinstance(result, int) else len(result)

    def executemany(self, conn, name: str, rows: list) -> int:
        if not rows:
            return 0
        sql = self.backend.sql.queries[name]
        return self.backend.executemany(conn, sql, rows, self._statements(conn))

    def call(self, conn, name: str, params: dict | None = None) -> list[dict]:
        return self.backend.call(conn, name, params or {})

    def ping(self, timeout: float | None = None) -> bool:
        with self.connection(timeout) as conn:
            return self.backend.ping(conn)

    def stats(self) -> dict:
        return {"backend": self.backend.describe(), **self.pool.stats()}
