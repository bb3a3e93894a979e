"""A thread-safe connection pool for any DB-API 2 driver.

Why our own: hdbcli has no pool, and the router needs a combination no small library offers:
strict FIFO waiters (no starvation under load), starting while the database is down and refilling
in the background, reconnect backoff with jitter, rollback on return, leak warnings and a
per-connection statement cache, at a cost of a few microseconds per borrow.

How:
- One lock guards all bookkeeping. The fast path (an idle connection and nobody waiting) pops a
  deque under that lock and reads time.monotonic() once; no logging, and callers get the raw
  driver connection (no wrapper object), keyed by id() in plain dicts.
- Waiters queue in a deque, each with its own lock used as a one-shot signal. A returned or new
  connection is handed directly to the first waiter (as psycopg_pool does), so a late thread
  never overtakes one already waiting.
- Connections are opened off the caller's thread (a short-lived thread per missing connection
  on demand, the maintenance thread to refill to min_size), so acquire() honours its timeout
  even while connect() hangs or backs off.
- The maintenance thread closes connections idle beyond idle_timeout above min_size, pings idle
  connections every health_check_interval, refills to min_size (retrying with backoff, which is
  the auto-recovery after an outage) and warns about connections held past leak_threshold.

Statement cache: `pool.statement_cache(conn)` is a dict that belongs to that physical connection
and is dropped when the pool discards it, so a backend can prepare an hdbcli cursor once per
connection and reuse it. Only the thread holding the connection may use its cache.

The connect callable must return connections usable from any thread (sqlite3:
check_same_thread=False): they are opened on pool threads and used on request threads.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from app.db.retry import Backoff

logger = logging.getLogger(__name__)
monotonic = time.monotonic
get_ident = threading.get_ident
_NEW, _OPEN, _CLOSED = "not started", "open", "closed"
_CLOSED_SIGNAL = object()  # handed to waiters by close()


class PoolError(Exception):
    """A connection cannot be provided or returned."""


class PoolTimeout(PoolError):
    """No connection became free within the acquire timeout."""


class PoolClosed(PoolError):
    """The pool is not started, or already closed."""


def default_ping(conn: Any) -> bool:
    """Portable liveness probe; backends pass their dialect's own (HANA: conn.ping())."""
    cur = conn.cursor()
    try:
        cur.execute("SELECT 1")
        cur.fetchall()
    finally:
        cur.close()
    return True


def _rollback(conn: Any) -> None:
    conn.rollback()


def _always(exc: BaseException) -> bool:
    return True


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # already broken: nothing left to release
        logger.debug("closing a pooled connection failed", exc_info=True)


class _Waiter:
    """One thread waiting for a connection; `signal` is released when `conn` is set."""

    __slots__ = ("conn", "ident", "since", "signal")

    def __init__(self, since: float) -> None:
        self.conn: Any = None
        self.ident = get_ident()
        self.since = since  # when acquire() was called, for the wait-time figures
        self.signal = threading.Lock()
        self.signal.acquire()


class _Borrowed:
    """`with pool.connection() as conn`: a class, not @contextmanager, to keep borrows cheap."""

    __slots__ = ("pool", "timeout", "conn")

    def __init__(self, pool: ConnectionPool, timeout: float | None) -> None:
        self.pool, self.timeout = pool, timeout

    def __enter__(self) -> Any:
        self.conn = self.pool.acquire(self.timeout)
        return self.conn

    def __exit__(self, typ, exc, tb) -> None:
        if id(self.conn) not in self.pool._borrowed:
            return  # the body discarded it already (still referenced here, so its id is unique)
        if exc is not None and self.pool._is_connection_error(exc):
            self.pool.discard(self.conn)  # a connection error leaves the connection suspect
        else:
            self.pool.release(self.conn)


class ConnectionPool:
    """Connections from `connect()`, between min_size and max_size; see the module docstring.

    `backoff` retries a failed connect (defaults: 0.1 s, 0.5 s, 2.5 s, equal jitter); its
    sleep is the pool's stop event while it is time.sleep, so close() cuts a backoff short.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        *,
        min_size: int = 5,
        max_size: int = 10,
        idle_timeout: float = 30.0,
        acquire_timeout: float = 5.0,
        health_check_interval: float = 60.0,
        validation_window: float = 0.5,
        leak_threshold: float = 30.0,
        backoff: Backoff | None = None,
        is_connection_error: Callable[[BaseException], bool] = _always,
        ping: Callable[[Any], bool] | None = None,
        reset: Callable[[Any], None] | None = None,
        name: str = "db",
    ) -> None:
        if max_size < 1 or not 0 <= min_size <= max_size:
            raise ValueError(f"pool {name!r}: need 0 <= min_size <= max_size and max_size >= 1")
        self.name, self.min_size, self.max_size = name, min_size, max_size
        self.acquire_timeout = acquire_timeout
        self._connect, self._ping, self._reset = connect, ping or default_ping, reset or _rollback
        self._is_connection_error = is_connection_error
        self._idle_timeout, self._health_interval = idle_timeout, health_check_interval
        self._window, self._leak = validation_window, leak_threshold
        self._stop = threading.Event()  # set by close(); its wait() is an interruptible sleep
        self._wake = threading.Event()  # asks the maintenance thread to run now
        backoff = backoff or Backoff()
        if backoff.sleep is time.sleep:
            backoff = backoff.with_(sleep=self._stop.wait)
        self._backoff = backoff
        self._tick = min(
            1.0, max(0.005, min(health_check_interval, idle_timeout, leak_threshold) / 2)
        )
        self._lock = threading.Lock()
        self._idle: deque[Any] = deque()  # LIFO at the right: the left end ages and shrinks
        self._waiters: deque[_Waiter] = deque()
        self._borrowed: dict[int, tuple[float, int]] = {}  # id -> (borrowed at, thread ident)
        self._last_used: dict[int, float] = {}  # id -> when last returned (or opened)
        self._caches: dict[int, dict] = {}
        self._warned: dict[int, float] = {}  # id -> borrow time already reported as a leak
        self._size = 0  # open connections plus those being opened
        self._opening = 0
        self._lost_debt = 0  # lost connections not yet replaced (for "recreated")
        self._state = _NEW
        self._thread: threading.Thread | None = None
        self._next_health = self._refill_after = 0.0
        self._last_error = ""
        self._acquired = 0
        self._wait_total = self._wait_max = 0.0
        self._n = dict.fromkeys(
            ("timeouts", "connection_errors", "connections_lost", "recreated", "leaks"), 0
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> ConnectionPool:
        """Open min_size connections, once each, then start the maintenance thread.

        A failed connect is logged, not raised: the service starts while the database is down,
        and the maintenance thread keeps retrying with backoff.
        """
        with self._lock:
            if self._state != _NEW:
                raise PoolError(f"pool {self.name!r} was already started")
            self._state = _OPEN
            self._next_health = monotonic() + self._health_interval
        while self._reserve(self.min_size) and self._open_reserved(retry=False):
            pass
        self._thread = threading.Thread(
            target=self._maintain, daemon=True, name=f"{self.name}-pool-maintenance"
        )
        self._thread.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop maintenance, fail waiters, close idle connections; borrowed ones close on return.

        Borrowed connections are not closed under their users: drivers with threadsafety 1
        (hdbcli) must not be touched from another thread.
        """
        with self._lock:
            if self._state == _CLOSED:
                return
            self._state = _CLOSED
            idle = list(self._idle)
            self._idle.clear()
            for conn in idle:
                self._forget_locked(id(conn))
            while self._waiters:
                waiter = self._waiters.popleft()
                waiter.conn = _CLOSED_SIGNAL
                waiter.signal.release()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for conn in idle:
            _close_quietly(conn)

    def __enter__(self) -> ConnectionPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- borrowing -------------------------------------------------------------------------------

    def acquire(self, timeout: float | None = None) -> Any:
        """A connection for the calling thread; raises PoolTimeout after `timeout` seconds
        (default acquire_timeout), PoolClosed if the pool is not open."""
        now = monotonic()
        with self._lock:
            if self._idle and not self._waiters:
                conn = self._idle.pop()
                key = id(conn)
                self._borrowed[key] = (now, get_ident())
                self._acquired += 1
                if now - self._last_used[key] <= self._window:
                    return conn  # used moments ago: skip the ping, as HikariCP does
            else:
                conn = None
        if conn is not None and self._validate(conn):
            return conn
        return self._acquire_slow(now, self.acquire_timeout if timeout is None else timeout)

    def release(self, conn: Any) -> None:
        """Return a borrowed connection, rolled back; one that cannot be reset is discarded."""
        key = id(conn)
        borrowed = self._borrowed.get(key)
        if borrowed is None:
            raise PoolError(f"pool {self.name!r}: connection not borrowed from this pool")
        try:
            self._reset(conn)
        except Exception as exc:
            logger.warning(
                "pool %r: reset failed (%s), discarding the connection",
                self.name,
                type(exc).__name__,
            )
            self._discard(conn, lost=True)
            return
        now = monotonic()
        if now - borrowed[0] > self._leak:
            self._leak_at_release(key, borrowed, now)
        with self._lock:
            if self._borrowed.pop(key, None) is None:
                raise PoolError(f"pool {self.name!r}: connection released twice")
            self._last_used[key] = now
            if self._waiters:
                self._handoff_locked(conn, now)
                return
            if self._state == _OPEN:
                self._idle.append(conn)
                return
            self._forget_locked(key)  # returned to a closed pool
        _close_quietly(conn)

    def connection(self, timeout: float | None = None) -> _Borrowed:
        """`with pool.connection() as conn:` releases on exit, or discards the connection when
        the body raised an error that is_connection_error classifies as a connection error."""
        return _Borrowed(self, timeout)

    def discard(self, conn: Any) -> None:
        """Close a borrowed connection the caller found broken; the pool replaces it."""
        if id(conn) not in self._borrowed:
            raise PoolError(f"pool {self.name!r}: connection not borrowed from this pool")
        self._discard(conn, lost=True)

    def statement_cache(self, conn: Any) -> dict:
        """A dict private to this borrowed connection, dropped when the connection is."""
        key = id(conn)
        if key not in self._borrowed:
            raise PoolError(f"pool {self.name!r}: connection not borrowed from this pool")
        return self._caches.setdefault(key, {})

    def stats(self) -> dict:
        """Figures for /health and metrics. size counts open connections; one being
        health-checked is neither idle nor active."""
        with self._lock:
            return {
                "size": self._size - self._opening,
                "idle": len(self._idle),
                "active": len(self._borrowed),
                "waiting": len(self._waiters),
                "min_size": self.min_size,
                "max_size": self.max_size,
                "acquired_total": self._acquired,
                "wait_time_total_s": self._wait_total,
                "wait_time_max_s": self._wait_max,
                **self._n,
            }

    # -- slow paths ------------------------------------------------------------------------------

    def _acquire_slow(self, start: float, timeout: float) -> Any:
        deadline = start + timeout
        while True:
            conn = self._wait_turn(start, deadline, timeout)
            if monotonic() - self._last_used[id(conn)] <= self._window or self._validate(conn):
                return conn

    def _wait_turn(self, start: float, deadline: float, timeout: float) -> Any:
        """Take an idle connection if nobody queues, else queue and wait to be handed one."""
        with self._lock:
            if self._state != _OPEN:
                raise PoolClosed(f"pool {self.name!r} is {self._state}")
            if self._idle and not self._waiters:
                conn = self._idle.pop()
                now = monotonic()
                self._borrowed[id(conn)] = (now, get_ident())
                self._acquired += 1
                self._note_wait_locked(now - start)
                return conn
            waiter = _Waiter(start)
            self._waiters.append(waiter)
            grow = self._reserve_locked(self.max_size)
        if grow:
            self._spawn_opener()
        if not waiter.signal.acquire(timeout=max(0.0, deadline - monotonic())):
            with self._lock:
                if waiter.conn is None:  # else handed over just after the timeout: keep it
                    self._waiters.remove(waiter)
                    self._n["timeouts"] += 1
                    raise PoolTimeout(self._timeout_message(timeout))
        if waiter.conn is _CLOSED_SIGNAL:
            raise PoolClosed(f"pool {self.name!r} was closed while waiting")
        return waiter.conn

    def _timeout_message(self, timeout: float) -> str:
        message = (
            f"pool {self.name!r}: no connection within {timeout:g} s (size "
            f"{self._size - self._opening}/{self.max_size}, {len(self._borrowed)} in use, "
            f"{len(self._waiters)} waiting)"
        )
        return f"{message}; last connect error: {self._last_error}" if self._last_error else message

    def _handoff_locked(self, conn: Any, now: float) -> None:
        waiter = self._waiters.popleft()
        key = id(conn)
        self._borrowed[key] = (now, waiter.ident)
        self._last_used[key] = now
        self._acquired += 1
        # Counted here, under the lock we hold anyway: the woken waiter takes no second lock.
        self._note_wait_locked(now - waiter.since)
        waiter.conn = conn
        waiter.signal.release()

    def _note_wait_locked(self, waited: float) -> None:
        self._wait_total += waited
        self._wait_max = max(self._wait_max, waited)

    def _put(self, conn: Any, *, oldest: bool = False) -> None:
        """Give a new or checked connection to the first waiter, else to the idle list."""
        now = monotonic()
        with self._lock:
            if self._waiters:
                self._handoff_locked(conn, now)
                return
            if self._state == _OPEN:
                # A checked connection goes back to the old end so idle_timeout still applies.
                self._idle.appendleft(conn) if oldest else self._idle.append(conn)
                return
            self._forget_locked(id(conn))
        _close_quietly(conn)

    def _validate(self, conn: Any) -> bool:
        """Ping a borrowed connection; discard it (False) if it is dead."""
        if self._alive(conn):
            return True
        self._discard(conn, lost=True)
        with self._lock:
            self._acquired -= 1  # this borrow never reached the caller
        return False

    def _alive(self, conn: Any) -> bool:
        try:
            return bool(self._ping(conn))
        except Exception:
            return False

    def _discard(self, conn: Any, *, lost: bool) -> None:
        with self._lock:
            self._forget_locked(id(conn))
            if lost:
                self._n["connections_lost"] += 1
                self._lost_debt += 1
            grow = bool(self._waiters) and self._reserve_locked(self.max_size)
        _close_quietly(conn)
        if grow:
            self._spawn_opener()  # someone is queued: replace now, not at the next tick
        elif self._size < self.min_size:
            self._wake.set()

    def _forget_locked(self, key: int) -> None:
        self._borrowed.pop(key, None)
        self._last_used.pop(key, None)
        self._caches.pop(key, None)
        self._warned.pop(key, None)
        self._size -= 1

    # -- opening ---------------------------------------------------------------------------------

    def _reserve(self, limit: int) -> bool:
        with self._lock:
            return self._reserve_locked(limit)

    def _reserve_locked(self, limit: int) -> bool:
        """Claim a slot for a connection about to be opened, so concurrent openers stop at max."""
        if self._state != _OPEN or self._size >= limit:
            return False
        self._size += 1
        self._opening += 1
        return True

    def _spawn_opener(self) -> None:
        threading.Thread(
            target=self._open_reserved, daemon=True, name=f"{self.name}-pool-open"
        ).start()

    def _open_reserved(self, retry: bool = True) -> bool:
        """Open a connection into a reserved slot; on failure give the slot back."""
        try:
            backoff = self._backoff if retry else self._backoff.with_(retries=0)
            conn = backoff.call(
                self._connect_unless_closed,
                retry_if=self._is_transient,
                on_error=self._count_error,
            )
        except Exception as exc:
            with self._lock:
                self._size -= 1
                self._opening -= 1
            if not isinstance(exc, PoolClosed):
                logger.warning("pool %r: cannot open a connection: %s", self.name, self._last_error)
            return False
        with self._lock:
            self._opening -= 1
            self._last_used[id(conn)] = monotonic()
            if self._lost_debt:
                self._lost_debt -= 1
                self._n["recreated"] += 1
            recovered, self._last_error = bool(self._last_error), ""
        if recovered:
            logger.warning("pool %r: database reachable again", self.name)
        self._put(conn)
        return True

    def _connect_unless_closed(self) -> Any:
        if self._stop.is_set():
            raise PoolClosed(f"pool {self.name!r} is closed")
        return self._connect()

    def _is_transient(self, exc: BaseException) -> bool:
        return not isinstance(exc, PoolClosed) and self._is_connection_error(exc)

    def _count_error(self, exc: BaseException) -> None:
        if isinstance(exc, PoolClosed):
            return
        with self._lock:
            self._n["connection_errors"] += 1
            # Driver messages name host and port, not credentials; connect() must keep it so.
            self._last_error = f"{type(exc).__name__}: {exc}"[:300]

    # -- maintenance -----------------------------------------------------------------------------

    def _maintain(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._next_wait())
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._maintain_once(monotonic())
            except Exception:  # the loop must survive anything, or recovery stops for good
                logger.exception("pool %r: maintenance failed", self.name)

    def _next_wait(self) -> float:
        if self._size >= self.min_size:
            return self._tick
        return min(self._tick, max(0.005, self._refill_after - monotonic()))  # below min: refill

    def _maintain_once(self, now: float) -> None:
        self._shrink(now)
        self._warn_leaks(now)
        if now >= self._next_health:
            self._next_health = now + self._health_interval
            self._check_idle()
        if now >= self._refill_after:
            while self._reserve(self.min_size):
                if not self._open_reserved(retry=True):
                    self._refill_after = monotonic() + self._backoff.cap  # outage: pause retries
                    break

    def _shrink(self, now: float) -> None:
        """Close connections idle longer than idle_timeout, down to min_size."""
        with self._lock:
            excess = self._size - self.min_size
            stale = [c for c in self._idle if now - self._last_used[id(c)] > self._idle_timeout]
            stale = stale[: max(0, excess)]
            for conn in stale:
                self._idle.remove(conn)
                self._forget_locked(id(conn))
        for conn in stale:
            _close_quietly(conn)

    def _check_idle(self) -> None:
        """Ping idle connections one at a time, so the others stay available meanwhile."""
        with self._lock:
            batch = list(self._idle)
        for conn in batch:
            with self._lock:
                if conn not in self._idle:
                    continue  # borrowed meanwhile: the borrower validates it
                self._idle.remove(conn)
            if self._alive(conn):
                self._put(conn, oldest=True)
            else:
                logger.warning("pool %r: idle connection failed its health check", self.name)
                self._discard(conn, lost=True)

    def _warn_leaks(self, now: float) -> None:
        with self._lock:
            late = [
                (key, since, ident)
                for key, (since, ident) in self._borrowed.items()
                if now - since > self._leak and self._warned.get(key) != since
            ]
            self._warned.update((key, since) for key, since, _ in late)
            self._n["leaks"] += len(late)
        for _, since, ident in late:
            self._log_leak(ident, now - since)

    def _leak_at_release(self, key: int, borrowed: tuple[float, int], now: float) -> None:
        with self._lock:
            if self._warned.pop(key, None) == borrowed[0]:
                return  # reported already by the maintenance thread
            self._n["leaks"] += 1
        self._log_leak(borrowed[1], now - borrowed[0])

    def _log_leak(self, ident: int, held: float) -> None:
        names = {t.ident: t.name for t in threading.enumerate()}
        logger.warning(
            "pool %r: connection held for %.1f s by thread %s (leak_threshold %g s); possible leak",
            self.name,
            held,
            names.get(ident, ident),
            self._leak,
        )
