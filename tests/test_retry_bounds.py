"""Which database errors are retried, and for how long: real SQLite files and real locks.

A statement that runs into its time limit is never run again (HANA 613 or SQLite's progress-
handler limit: the request already waited the whole limit once); lock waits are retried with
backoff, but no retry starts after the retry budget, so a request never waits several
lock timeouts.
"""

from __future__ import annotations

import sqlite3

import pytest

from app.db import errors
from app.db.database import Database, PoolSettings
from app.db.retry import Backoff
from app.db.sqlite import SqliteBackend


class CountingBackend(SqliteBackend):
    """The real SQLite backend, counting transactions begun (an attempt may fail at BEGIN)."""

    begun = 0

    def begin(self, conn, *, immediate: bool = True) -> None:
        self.begun += 1
        super().begin(conn, immediate=immediate)


def make_db(path, *, budget: float, statement_timeout_ms: int = 30000) -> Database:
    backend = CountingBackend(path, busy_timeout_ms=50, statement_timeout_ms=statement_timeout_ms)
    db = Database(
        backend,
        pool=PoolSettings(min_size=1, max_size=2),
        backoff=Backoff(retries=3, initial=0.01, multiplier=2.0, cap=0.05, budget=budget),
    )
    db.start()
    return db


@pytest.fixture
def path(tmp_path):
    file = tmp_path / "retry.db"
    conn = sqlite3.connect(file)
    conn.execute("PRAGMA journal_mode=WAL")  # as every database file of the service
    conn.execute("CREATE TABLE T (X INTEGER)")
    conn.commit()
    conn.close()
    return file


@pytest.fixture
def locked(path):
    """Another connection holds the write lock (what a DBA's long transaction does)."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    yield holder
    holder.rollback()
    holder.close()


def test_a_statement_timeout_runs_once_and_is_a_503_class_error(path):
    db = make_db(path, budget=10.0, statement_timeout_ms=50)
    attempts = []

    def slow(conn):
        attempts.append(1)
        # a recursive CTE that runs far longer than 50 ms: the progress handler stops it
        db.backend.execute(
            conn,
            "WITH RECURSIVE N(I) AS (SELECT 1 UNION ALL SELECT I + 1 FROM N) "
            "SELECT COUNT(*) FROM (SELECT I FROM N LIMIT 100000000)",
        )

    with pytest.raises(errors.StatementTimeout) as caught:
        db.run_in_transaction(slow)
    assert isinstance(caught.value, errors.DatabaseUnavailable)
    assert attempts == [1]
    assert db.pool.stats()["size"] >= 1  # the connection was kept, not discarded
    db.close()


@pytest.mark.parametrize("budget, expected_attempts", [(0.0, 1), (10.0, 3)])
def test_lock_waits_are_retried_within_the_budget(path, locked, budget, expected_attempts):
    db = make_db(path, budget=budget)

    with pytest.raises(errors.TransientError):
        db.run_in_transaction(lambda conn: db.backend.execute(conn, "INSERT INTO T VALUES (1)"))
    assert db.backend.begun == expected_attempts
    db.close()


def test_a_lock_released_before_the_budget_ends_lets_the_retry_pass(path, locked):
    db = make_db(path, budget=10.0)
    begin = db.backend.begin

    def begin_after_release(conn, *, immediate=True):
        if db.backend.begun == 1:
            locked.rollback()  # the other transaction ends while we back off
        begin(conn, immediate=immediate)

    db.backend.begin = begin_after_release
    db.run_in_transaction(lambda conn: db.backend.execute(conn, "INSERT INTO T VALUES (1)"))
    assert db.backend.begun == 2
    with db.read() as conn:
        assert db.backend.execute(conn, "SELECT COUNT(*) AS N FROM T") == [{"n": 1}]
    db.close()


def test_one_backoff_object_carries_each_callers_schedule(config):
    """The pool, Database and the writer hold the same Backoff type, built from retry.*: the
    pool retries connects on the whole schedule, a transaction gets retry.max_attempts in all
    within retry.budget_ms, the writer retries lock waits at 20 and 40 ms inside its deadline."""
    import math

    from app.db.spool import Spool
    from app.db.writer import Writer

    db = Database.from_config(config)
    assert db.backoff.delays() == pytest.approx([0.1, 0.5, 2.5])
    assert db.backoff.budget == pytest.approx(3.0)
    assert db.pool._backoff.budget == math.inf
    writer = Writer.from_config(db, Spool(config["spool.path"]), config)
    assert writer.backoff.delays() == pytest.approx([0.02, 0.04])
    assert writer.backoff.jitter(0.02) == 0.02
    assert writer.acquire_timeout_s == pytest.approx(0.25)
