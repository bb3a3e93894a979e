"""A slow database never holds up a request (issue 13): real locks from a second process, a real
late commit, a real disk-full spool, a real deaf port for HANA.

The writer gives up on a group commit at its deadline and acknowledges from the spool; the rows
of an abandoned commit are stored exactly once even when the database commits them after all;
reads of the request path answer 503 at their deadline instead of waiting the busy timeout.
Times are checked only against the busy timeout they must not wait for (a functional bound, not
a performance target: those are in bench/slow_database.py).
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from server_process import LockHolder
from support import AGENTS, Raw, decision, drained, outcome, wait_until

from app.db import errors, store
from app.db.database import Database, PoolSettings
from app.db.deadline import DeadlineExceeded
from app.db.spool import Spool
from app.db.sqlite import SqliteBackend
from app.keys import KeyRing, new_key

BUSY_TIMEOUT_MS = 10_000  # what a write or read would wait behind the lock without a deadline
NOT_THE_BUSY_TIMEOUT_S = 3.0


@pytest.fixture
def patient_db(migrated):
    """The migrated database with a long busy timeout: only a deadline can cut a wait short."""
    backend = SqliteBackend(migrated["sqlite.path"], busy_timeout_ms=BUSY_TIMEOUT_MS)
    database = Database(backend, pool=PoolSettings(min_size=1, max_size=6), request_deadline_s=0.1)
    database.start()
    yield database
    database.close()


def writer_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "app.db.writer" and r.levelno == logging.WARNING
    ]


def test_a_lock_held_by_another_process_diverts_to_the_spool_at_the_deadline(
    patient_db, seeded, writers, migrated, caplog
):
    raw = Raw(migrated["sqlite.path"])
    writer = writers(patient_db, migrated["spool.path"], commit_deadline_ms=100)
    acked, slowest = [], [0.0]
    lock = threading.Lock()

    def client(i: int) -> None:
        for _ in range(15):
            row = decision(AGENTS[i], seeded[AGENTS[i]])
            started = time.monotonic()
            where = writer.write([row], [outcome(row["decision_id"])])
            with lock:
                slowest[0] = max(slowest[0], time.monotonic() - started)
                acked.append((where, row["decision_id"]))

    with LockHolder(migrated["sqlite.path"]):
        threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        stats = writer.stats()
        assert {where for where, _ in acked} == {"spool"} and len(acked) == 45
        assert slowest[0] < NOT_THE_BUSY_TIMEOUT_S
        assert stats["mode"] == "spooling" and stats["mode_reason"] == "commit_deadline"
        assert stats["deadline_diversions"] == 1  # then straight to the spool: no more waits
        assert stats["spooling_since_unix_s"] > 0
        assert raw.decision_ids() == set()
    wait_until(lambda: drained(writer), 10)
    assert raw.decision_ids() == raw.outcome_ids() == {d for _, d in acked}
    raw.assert_applied_exactly_once()
    warnings = writer_warnings(caplog)  # one when it enters, one when it leaves: not per request
    assert len(warnings) == 2, warnings
    assert "spooling mode (commit_deadline)" in warnings[0]
    assert "writing to the database again" in warnings[1]


def test_an_abandoned_commit_that_commits_late_is_stored_exactly_once(
    faulty, seeded, raw, writers, migrated
):
    writer = writers(faulty, migrated["spool.path"], commit_deadline_ms=100)
    faulty.backend.stall_commit_s = 0.5  # commits, and answers after the deadline
    row = decision("a1", seeded["a1"])
    started = time.monotonic()
    assert writer.write([row], [outcome(row["decision_id"], latency_ms=7.0)]) == "spool"
    assert time.monotonic() - started < 0.5  # acknowledged before the commit ended
    assert raw.decision_ids() == {row["decision_id"]}  # committed after all
    faulty.backend.stall_commit_s = 0.0
    wait_until(lambda: drained(writer))
    stats = writer.stats()
    assert raw.decision_ids() == raw.outcome_ids() == {row["decision_id"]}
    raw.assert_applied_exactly_once()
    assert raw.counters()["a1"][:3] == (1, 1, 0)
    assert stats["abandoned_commits_finished_late"] == 1
    assert stats["replay_skipped_rows"] == 2 and stats["replayed_rows"] == 0


def test_a_full_spool_while_the_database_is_slow_refuses_and_acknowledges_nothing(
    patient_db, seeded, writers, migrated
):
    raw = Raw(migrated["sqlite.path"])
    spool = Spool(migrated["spool.path"]).open()
    writer = writers(patient_db, spool, commit_deadline_ms=100)
    # a real SQLITE_FULL: the spool file may not grow past the pages it has
    pages = spool._conn.execute("PRAGMA page_count").fetchone()[0]
    spool._conn.execute(f"PRAGMA max_page_count={pages}")
    rows = [decision("a1", seeded["a1"]) for _ in range(40)]
    with LockHolder(migrated["sqlite.path"]):
        started = time.monotonic()
        with pytest.raises(errors.DatabaseUnavailable, match="full"):
            writer.write(rows, [])
        assert time.monotonic() - started < NOT_THE_BUSY_TIMEOUT_S
    spool._conn.execute("PRAGMA max_page_count=4294967294")
    assert spool.depth() == 0 and raw.decision_ids() == set()  # nothing durable, nothing told
    assert writer.write([rows[0]], []) in ("database", "spool")  # acknowledged again
    wait_until(lambda: drained(writer))
    assert raw.decision_ids() == {rows[0]["decision_id"]}


def test_request_path_reads_answer_at_their_deadline_while_the_database_is_slow(
    faulty, seeded, writers, migrated
):
    writer = writers(faulty, migrated["spool.path"])
    row = decision("a1", seeded["a1"])
    assert writer.write([row], []) == "database"
    ring = KeyRing(faulty)
    key_id, key, key_hash = new_key()
    store.create_api_key(faulty, key_id, key_hash, "router", "slow")
    faulty.backend.stall_s = 2.0  # every statement answers after 2 s
    for read in (
        lambda: faulty.bounded(store.get_decision, faulty, row["decision_id"]),
        lambda: ring.verify(key),  # a key not seen yet: its first read
    ):
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            read()
        assert time.monotonic() - started < 1.0  # the deadline (0.2 s), not the stall
    faulty.backend.stall_s = 0.0
    wait_until(lambda: not faulty.requests.busy)  # the stalled reads ended on their own
    assert faulty.bounded(store.get_decision, faulty, row["decision_id"])
    assert ring.verify(key) is not None


def test_sqlite_cuts_a_statement_at_the_deadline_and_frees_its_worker(patient_db):
    """The progress handler stops a long statement at the caller's deadline: the worker is
    free at once, not after sqlite.statement_timeout_ms (30 s)."""
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT MAX(i) FROM n"

    def count_forever():
        with patient_db.read() as conn:
            return patient_db.backend.execute(conn, endless)

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        patient_db.bounded(count_forever, seconds=0.1)
    wait_until(lambda: not patient_db.requests.busy, 2.0)
    assert time.monotonic() - started < NOT_THE_BUSY_TIMEOUT_S
    assert patient_db.requests.completed_late <= 1


def test_a_deaf_hana_is_spooled_and_read_within_the_deadline(tmp_path):
    """hdbcli against a port that accepts and never answers (no HANA server runs here): the
    writer acknowledges from the spool and a request-path read answers DeadlineExceeded, both
    within their deadlines, while hdbcli's own connect waits its connectTimeout."""
    from app.config import Secret
    from app.db.hana import HanaBackend
    from app.db.writer import Writer

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        hana = HanaBackend(host="127.0.0.1", port=listener.getsockname()[1], user="APP",
                           password=Secret("pw"), encrypt=False, connect_timeout_ms=3000,
                           communication_timeout_ms=3000)  # fmt: skip
        database = Database(hana, pool=PoolSettings(min_size=0, max_size=2, acquire_timeout=5.0),
                            request_deadline_s=0.2)  # fmt: skip
        database.start()
        writer = Writer(database, Spool(tmp_path / "spool.db"), commit_deadline_ms=200).start()
        try:
            row = decision("a1", None)
            started = time.monotonic()
            assert writer.write([row], []) == "spool"
            assert time.monotonic() - started < 1.0 < 3.0
            assert writer.stats()["mode"] == "spooling"
            started = time.monotonic()
            with pytest.raises(errors.DatabaseUnavailable):
                database.bounded(store.get_decision, database, row["decision_id"])
            assert time.monotonic() - started < 1.0
        finally:
            writer.stop(timeout=2.0)
            database.close()


def test_a_full_spool_behind_a_locked_database_answers_503_with_retry_after(
    app, api, catalog, overrides
):
    """Through the API: once the spool cannot grow (the database locked), routes are refused
    with a clear 503, and every 200 given before is in the spool: nothing acknowledged that is
    not durable."""
    spool = app.extensions["services"].writer.spool
    pages = spool._conn.execute("PRAGMA page_count").fetchone()[0]
    spool._conn.execute(f"PRAGMA max_page_count={pages}")
    answers = []
    with LockHolder(overrides["sqlite.path"]):
        while len(answers) < 200 and (not answers or answers[-1].status_code == 200):
            answers.append(
                api.post("/api/v1/route", {"agent_id": catalog["agents"][0]}, role="router")
            )
    refused = answers[-1]
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) >= 1
    assert refused.content_type == "application/problem+json"
    assert spool.depth() == len(answers) - 1  # each 200 spooled, the refused one not
