"""The connection pool under real threads and real SQLite connections: exact outcomes only."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest

from app.db.pool import (
    ConnectionPool,
    PoolClosed,
    PoolError,
    PoolTimeout,
)
from app.db.retry import Backoff, backoff_delays, equal_jitter, no_jitter

STATS_FIELDS = {
    "size",
    "idle",
    "active",
    "waiting",
    "min_size",
    "max_size",
    "acquired_total",
    "wait_time_total_s",
    "wait_time_max_s",
    "timeouts",
    "connection_errors",
    "connections_lost",
    "recreated",
    "leaks",
}


class TrackedConnection(sqlite3.Connection):
    """A real sqlite3 connection that remembers whether the pool closed it."""

    closed_by_pool = False

    def close(self) -> None:
        self.closed_by_pool = True
        super().close()


class Database:
    """A SQLite file plus a connect() that records every connection and can be 'down'."""

    def __init__(self, path) -> None:
        self.path = str(path)
        self.down = False
        self.opened: list[TrackedConnection] = []
        with sqlite3.connect(self.path) as conn:
            conn.execute("CREATE TABLE t (x INTEGER)")
        conn.close()

    def connect(self) -> TrackedConnection:
        if self.down:
            raise sqlite3.OperationalError("database is down")
        conn = sqlite3.connect(self.path, check_same_thread=False, factory=TrackedConnection)
        self.opened.append(conn)
        return conn


class FakeConnection:
    """The smallest DB-API connection: enough to make rollback fail on demand."""

    def __init__(self) -> None:
        self.fail_rollback = False
        self.closed = False

    def rollback(self) -> None:
        if self.fail_rollback:
            raise RuntimeError("rollback failed: connection reset by peer")

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def db(tmp_path) -> Database:
    return Database(tmp_path / "pool.db")


@pytest.fixture
def make_pool():
    pools: list[ConnectionPool] = []

    def make(connect, **options) -> ConnectionPool:
        pool = ConnectionPool(connect, **{"name": "test", **options})
        pools.append(pool)
        return pool.start()

    yield make
    for pool in pools:
        pool.close()


def wait_until(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def run_threads(threads: list[threading.Thread], timeout: float = 10.0) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "deadlock: a worker never finished"


def test_four_workers_on_two_connections_give_two_successes_and_two_timeouts(db, make_pool):
    pool = make_pool(db.connect, min_size=2, max_size=2, acquire_timeout=0.1)
    barrier = threading.Barrier(4)
    successes, timeouts, lock = [], [], threading.Lock()

    def worker() -> None:
        barrier.wait()
        start = time.monotonic()
        try:
            with pool.connection():
                time.sleep(0.5)
            with lock:
                successes.append(1)
        except PoolTimeout:
            with lock:
                timeouts.append(time.monotonic() - start)

    run_threads([threading.Thread(target=worker) for _ in range(4)])
    assert len(successes) == 2
    assert len(timeouts) == 2
    assert all(0.1 <= t <= 0.2 for t in timeouts), timeouts
    assert pool.stats()["timeouts"] == 2


def test_timeout_message_names_pool_timeout_and_size(db, make_pool):
    pool = make_pool(db.connect, min_size=1, max_size=1)
    with pool.connection():
        with pytest.raises(
            PoolTimeout, match=r"pool 'test': no connection within 0.05 s \(size 1/1"
        ):
            pool.acquire(timeout=0.05)


def test_hundred_threads_never_share_a_connection(db, make_pool):
    pool = make_pool(db.connect, min_size=2, max_size=10, acquire_timeout=5.0)
    holders: set[int] = set()
    lock = threading.Lock()
    shared, counts = [], {"acquired": 0, "released": 0}
    deadline = time.monotonic() + 1.0

    def worker() -> None:
        while time.monotonic() < deadline:
            conn = pool.acquire()
            with lock:
                counts["acquired"] += 1
                if id(conn) in holders:
                    shared.append(id(conn))
                holders.add(id(conn))
            conn.execute("SELECT 1").fetchall()
            time.sleep(0.001)
            with lock:
                holders.discard(id(conn))
            pool.release(conn)
            with lock:
                counts["released"] += 1

    run_threads([threading.Thread(target=worker) for _ in range(100)], timeout=15)
    stats = pool.stats()
    assert shared == []
    assert counts["acquired"] == counts["released"] == stats["acquired_total"] > 100
    assert (stats["active"], stats["waiting"], stats["timeouts"]) == (0, 0, 0)
    assert stats["size"] == stats["idle"] == len(db.opened) == 10


def test_waiters_are_served_in_arrival_order(db, make_pool):
    pool = make_pool(db.connect, min_size=1, max_size=1, acquire_timeout=5.0)
    held = pool.acquire()
    served: list[int] = []

    def waiter(number: int) -> None:
        with pool.connection():
            served.append(number)
            time.sleep(0.005)  # a releaser re-queues behind the others: no overtaking

    threads = [threading.Thread(target=waiter, args=(n,)) for n in range(6)]
    for number, thread in enumerate(threads, start=1):
        thread.start()
        wait_until(lambda n=number: pool.stats()["waiting"] == n)
    pool.release(held)
    for thread in threads:
        thread.join(5)
    assert served == list(range(6))
    assert pool.stats()["waiting"] == 0


def test_grows_on_demand_and_shrinks_to_min_after_idle_timeout(db, make_pool):
    pool = make_pool(db.connect, min_size=1, max_size=4, idle_timeout=0.2)
    conns = [pool.acquire() for _ in range(4)]
    assert len({id(c) for c in conns}) == 4
    for conn in conns:
        pool.release(conn)
    assert pool.stats()["size"] == 4  # not before idle_timeout
    wait_until(lambda: sum(c.closed_by_pool for c in db.opened) == 3)
    assert (pool.stats()["size"], pool.stats()["idle"], len(db.opened)) == (1, 1, 4)


def test_refills_to_min_after_every_connection_broke(db, make_pool):
    # reset is a no-op so that the broken connections go back idle and the health check finds them.
    pool = make_pool(
        db.connect, min_size=3, max_size=3, health_check_interval=0.05, reset=lambda conn: None
    )
    broken = [pool.acquire() for _ in range(3)]
    for conn in broken:
        sqlite3.Connection.close(conn)  # the server side went away
        pool.release(conn)
    wait_until(lambda: pool.stats()["connections_lost"] == 3 and pool.stats()["idle"] == 3)
    stats = pool.stats()
    assert (stats["size"], stats["recreated"]) == (3, 3)
    with pool.connection() as conn:
        assert conn not in broken
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_borrow_pings_a_connection_idle_past_the_validation_window(db, make_pool):
    pings = []

    def ping(conn) -> bool:
        pings.append(conn)
        return conn.execute("SELECT 1").fetchone() == (1,)

    pool = make_pool(
        db.connect,
        min_size=1,
        max_size=1,
        validation_window=0.5,
        ping=ping,
        reset=lambda conn: None,
    )
    first = pool.acquire()
    pool.release(first)
    pool.release(pool.acquire())  # within the window: no ping
    assert pings == []
    sqlite3.Connection.close(first)
    time.sleep(0.55)
    second = pool.acquire()
    assert second is not first and pings[0] is first
    assert second.execute("SELECT 1").fetchone() == (1,)
    pool.release(second)
    assert pool.stats()["connections_lost"] == 1
    assert pool.stats()["acquired_total"] == 3


def test_starts_while_database_is_down_and_recovers_by_itself(db, make_pool, caplog):
    caplog.set_level(logging.WARNING, logger="app.db.pool")
    db.down = True
    pool = make_pool(
        db.connect,
        min_size=2,
        max_size=2,
        backoff=Backoff(retries=2, initial=0.01, multiplier=2, cap=0.05),
    )
    assert pool.stats()["size"] == 0
    with pytest.raises(PoolTimeout, match="last connect error: OperationalError: database is down"):
        pool.acquire(timeout=0.1)
    db.down = False
    wait_until(lambda: pool.stats()["size"] == 2)
    with pool.connection() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert pool.stats()["connection_errors"] >= 1
    messages = [r.getMessage() for r in caplog.records]
    assert any("cannot open a connection" in m for m in messages)
    assert any("database reachable again" in m for m in messages)


def test_backoff_delays_grow_by_the_multiplier_up_to_the_cap():
    assert backoff_delays(3, 0.1, 5.0, 5.0) == pytest.approx([0.1, 0.5, 2.5])  # the defaults
    assert backoff_delays(5, 0.01, 2.0, 0.05) == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05])
    assert backoff_delays(0, 0.1, 5.0, 5.0) == []


def test_connect_retries_transient_errors_with_the_backoff_schedule():
    slept, calls = [], []

    def connect():
        calls.append(1)
        raise sqlite3.OperationalError(f"refused #{len(calls)}")

    backoff = Backoff(4, 0.01, 2.0, 0.05, jitter=no_jitter, sleep=slept.append)
    with pytest.raises(sqlite3.OperationalError, match="refused #5"):
        backoff.call(connect, retry_if=lambda e: True)
    assert slept == pytest.approx([0.01, 0.02, 0.04, 0.05])
    assert len(calls) == 5


def test_equal_jitter_keeps_at_least_half_of_each_delay():
    slept = []
    backoff = Backoff(3, 0.1, 5.0, 5.0, sleep=slept.append)
    delays = backoff.delays()
    with pytest.raises(ConnectionError):
        backoff.call(_refuse, retry_if=lambda e: True)
    assert [d / 2 <= s <= d for s, d in zip(slept, delays, strict=True)] == [True] * 3
    assert equal_jitter(1.0, rand=lambda: 0.0) == 0.5
    assert equal_jitter(1.0, rand=lambda: 1.0) == 1.0


def test_non_transient_connect_error_is_not_retried():
    slept = []
    with pytest.raises(ConnectionError):
        Backoff(2, sleep=slept.append).call(_refuse, retry_if=lambda e: False)
    assert slept == []


def test_pool_refill_sleeps_the_configured_schedule(make_pool):
    slept = []
    pool = make_pool(
        _refuse,
        min_size=1,
        max_size=1,
        backoff=Backoff(3, 0.01, 3.0, 0.05, jitter=no_jitter, sleep=slept.append),
    )
    wait_until(lambda: len(slept) >= 6)
    pool.close()
    assert slept[:6] == pytest.approx([0.01, 0.03, 0.05] * 2)


def _refuse():
    raise ConnectionError("connection refused")


def test_release_rolls_back_an_open_transaction(db, make_pool):
    pool = make_pool(db.connect, min_size=1, max_size=1)
    with pool.connection() as conn:
        conn.execute("INSERT INTO t VALUES (1)")  # opens a transaction, never committed
        assert conn.in_transaction
    other = sqlite3.connect(db.path)
    assert other.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
    other.close()
    with pool.connection() as again:
        assert again is conn and not again.in_transaction


def test_connection_whose_rollback_fails_is_discarded_and_replaced(make_pool):
    made: list[FakeConnection] = []

    def connect() -> FakeConnection:
        made.append(FakeConnection())
        return made[-1]

    pool = make_pool(connect, min_size=1, max_size=1, ping=lambda conn: True)
    conn = pool.acquire()
    conn.fail_rollback = True
    pool.release(conn)
    assert conn.closed
    assert pool.stats()["connections_lost"] == 1
    with pool.connection() as fresh:
        assert fresh is made[1]
    assert pool.stats()["size"] == 1


def test_body_error_discards_only_connection_errors(db, make_pool):
    pool = make_pool(
        db.connect,
        min_size=1,
        max_size=1,
        is_connection_error=lambda e: isinstance(e, sqlite3.OperationalError),
    )
    with pytest.raises(ValueError), pool.connection() as first:
        raise ValueError("bad input")
    with pytest.raises(sqlite3.OperationalError), pool.connection() as second:
        assert second is first  # kept after a non-connection error
        raise sqlite3.OperationalError("disk I/O error")
    assert first.closed_by_pool
    assert pool.stats()["connections_lost"] == 1
    with pool.connection() as third:
        assert third is not first


def test_leak_warning_names_thread_and_time(db, make_pool, caplog):
    caplog.set_level(logging.WARNING, logger="app.db.pool")
    pool = make_pool(db.connect, min_size=1, max_size=1, leak_threshold=0.1)

    def hold() -> None:
        with pool.connection():
            time.sleep(0.35)

    run_threads([threading.Thread(target=hold, name="leaky-worker")])
    leaks = [r for r in caplog.records if "possible leak" in r.getMessage()]
    assert len(leaks) == 1
    assert leaks[0].levelno == logging.WARNING
    assert "leaky-worker" in leaks[0].getMessage()
    assert "held for 0." in leaks[0].getMessage()
    assert pool.stats()["leaks"] == 1


def test_statement_cache_is_per_connection_and_dropped_with_it(db, make_pool):
    pool = make_pool(
        db.connect,
        min_size=1,
        max_size=1,
        is_connection_error=lambda e: isinstance(e, sqlite3.OperationalError),
    )
    with pool.connection() as conn:
        pool.statement_cache(conn)["q"] = "prepared"
    with pool.connection() as conn:
        assert pool.statement_cache(conn) == {"q": "prepared"}
        pool.discard(conn)
    with pool.connection() as conn:
        assert pool.statement_cache(conn) == {}
    with pytest.raises(PoolError):
        pool.statement_cache(conn)  # no longer borrowed


def test_stats_fields_are_consistent(db, make_pool):
    pool = make_pool(db.connect, min_size=3, max_size=5)
    assert set(pool.stats()) == STATS_FIELDS
    held = [pool.acquire(), pool.acquire()]
    stats = pool.stats()
    assert (stats["size"], stats["idle"], stats["active"], stats["waiting"]) == (3, 1, 2, 0)
    assert (stats["min_size"], stats["max_size"], stats["acquired_total"]) == (3, 5, 2)
    for conn in held:
        pool.release(conn)
    stats = pool.stats()
    assert stats["size"] == stats["idle"] + stats["active"] == 3
    assert 0 <= stats["wait_time_max_s"] <= stats["wait_time_total_s"]
    assert stats["timeouts"] == stats["connection_errors"] == stats["leaks"] == 0


def test_no_thread_before_start_and_closed_pool_refuses(db):
    def pool_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("lazy-pool")]

    pool = ConnectionPool(db.connect, min_size=1, max_size=1, name="lazy")
    assert pool_threads() == [] and db.opened == []
    with pytest.raises(PoolClosed, match="not started"):
        pool.acquire(timeout=0.01)
    pool.start()
    assert pool_threads() == ["lazy-pool-maintenance"]
    held = pool.acquire()
    errors = []

    def waiter() -> None:
        try:
            pool.acquire(timeout=5)
        except PoolClosed as exc:
            errors.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: pool.stats()["waiting"] == 1)
    pool.close()
    thread.join(5)
    assert len(errors) == 1
    pool.release(held)  # a connection returned after close is closed
    assert held.closed_by_pool
    with pytest.raises(PoolClosed):
        pool.acquire()


def test_release_of_a_foreign_connection_is_refused(db, make_pool):
    pool = make_pool(db.connect, min_size=1, max_size=1)
    conn = pool.acquire()
    pool.release(conn)
    with pytest.raises(PoolError, match="not borrowed"):
        pool.release(conn)
