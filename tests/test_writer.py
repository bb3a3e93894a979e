"""The group-commit writer on a real migrated SQLite database, with real threads and outages.

Outages come from FaultySqliteBackend (the real backend with injected DatabaseUnavailable) and
stalls from a second connection holding SQLite's write lock. Every check of the database reads
the raw tables over an independent sqlite3 connection.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest
from support import AGENTS, decision, drained, outcome, wait_until

from app.db import errors
from app.db.spool import Spool
from app.db.store.decisions import outcome_row
from app.db.writer import (
    Overloaded,
    ShuttingDown,
    UnknownDecision,
    WriteTimeout,
)
from app.ids import new_decision_id

# -- group commit ---------------------------------------------------------------------------------


def test_concurrent_requests_share_commits_and_every_row_lands_once(
    db, seeded, raw, writers, migrated
):
    writer = writers(db, migrated["spool.path"], max_wait_ms=5.0)
    acked: Counter = Counter()
    failures: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def client(agent: str) -> None:
        try:
            for i in range(15):
                row = decision(agent, seeded[agent])
                first = writer.write([row], [])
                second = writer.write([], [outcome(row["decision_id"], i % 3 != 0, 5.0 + i)])
                with lock:
                    acked.update([first, second])
        except BaseException as exc:
            failures.append(exc)

    def observer() -> None:  # figures are read while commits are being recorded
        try:
            while not done.is_set():
                assert writer.stats()["queue_depth_rows"] <= writer.queue_max
                time.sleep(0.001)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(AGENTS[n % 3],)) for n in range(12)]
    watcher = threading.Thread(target=observer)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    done.set()
    watcher.join(5)
    assert failures == []
    assert acked == {"database": 12 * 15 * 2}
    stats = writer.stats()
    assert stats["rows"] == 360 and stats["refused_requests"] == 0
    assert stats["batches"] < 360  # group commit: many requests per transaction
    assert stats["batch_size_max"] > 1
    assert sum(stats["batch_size_histogram"].values()) == stats["batches"]
    assert raw.one("SELECT COUNT(*) FROM ROUTING_DECISIONS") == 180
    assert raw.one("SELECT COUNT(*) FROM INFERENCE_METRICS") == 180
    assert raw.counters()["a1"][:3] == (60, 40, 20)
    raw.assert_applied_exactly_once()
    # One SP_APPLY_OUTCOMES per batch that held outcomes, fewer than the outcome requests.
    assert raw.one("SELECT COUNT(*) FROM OUTCOME_BATCHES") < 180


def test_a_decision_and_its_outcome_in_one_request(db, seeded, raw, writers, migrated):
    writer = writers(db, migrated["spool.path"])
    row = decision("a2", seeded["a2"])
    assert writer.write([row], [outcome(row["decision_id"], False, 42.0)]) == "database"
    assert raw.counters()["a2"] == (1, 0, 1, 42.0)
    raw.assert_applied_exactly_once()


def test_stats_report_figures(db, seeded, writers, migrated):
    writer = writers(db, migrated["spool.path"])
    writer.write([decision("a1", seeded["a1"])], [])
    stats = writer.stats()
    assert stats["mode"] == "database" and stats["state"] == "running"
    assert stats["batches"] == 1 and stats["rows"] == 1
    assert stats["queue_depth_rows"] == 0 and stats["spool_depth"] == 0
    latency = stats["commit_latency_ms"]
    assert 0 < latency["avg"] <= latency["p99"] <= latency["max"]
    assert {"spooled_rows", "replayed_rows", "dead_letters", "batch_size_avg"} <= stats.keys()


# -- refused rows ---------------------------------------------------------------------------------


def test_refused_rows_fail_only_their_own_request(db, seeded, raw, writers, migrated):
    writer = writers(db, migrated["spool.path"], max_wait_ms=200.0)
    old = decision("a1", seeded["a1"])
    writer.write([old], [outcome(old["decision_id"])])
    fresh = [decision("a1", seeded["a1"]) for _ in range(4)]
    writer.write(fresh[:3], [])
    # All of these gather into one batch (max_wait 200 ms): three are refused, for different
    # reasons, and the other four commit.
    tickets = [
        writer.submit([], [outcome(old["decision_id"])]),  # second outcome, in the database
        writer.submit([], [outcome(fresh[0]["decision_id"])]),
        writer.submit([], [outcome(new_decision_id())]),  # no such decision
        writer.submit([fresh[3]], [outcome(fresh[3]["decision_id"])]),
        writer.submit([], [outcome(fresh[1]["decision_id"])]),
        writer.submit([], [outcome(fresh[1]["decision_id"])]),  # repeats the previous request
        writer.submit([], [outcome(fresh[2]["decision_id"])]),
    ]
    results = []
    for ticket in tickets:
        try:
            results.append(ticket.wait(5.0))
        except errors.DatabaseError as exc:
            results.append(type(exc))
    assert results == [
        errors.UniqueViolation,
        "database",
        UnknownDecision,
        "database",
        "database",
        errors.UniqueViolation,
        "database",
    ]
    assert raw.outcome_ids() == {old["decision_id"]} | {f["decision_id"] for f in fresh}
    assert raw.counters()["a1"][0] == 5
    raw.assert_applied_exactly_once()
    assert writer.stats()["refused_requests"] == 3


def test_malformed_rows_are_refused_at_submit(db, seeded, writers, migrated):
    writer = writers(db, migrated["spool.path"], queue_max=10)
    row = decision("a1", seeded["a1"])
    del row["reason"]
    with pytest.raises(ValueError, match="reason"):
        writer.submit([row], [])
    with pytest.raises(ValueError, match="outcome"):
        writer.submit([], [{"decision_id": new_decision_id()}])
    with pytest.raises(ValueError, match="queue_max"):
        writer.submit([decision("a1", None) for _ in range(11)], [])
    assert writer.submit([], []).wait(0) == "database"  # nothing to write: durable at once


# -- outages and the spool ------------------------------------------------------------------------


def test_outage_under_load_loses_nothing_and_counts_once(
    faulty, seeded, raw, writers, migrated, caplog
):
    caplog.set_level(logging.INFO, logger="app.db.writer")
    writer = writers(faulty, migrated["spool.path"], max_wait_ms=2.0)
    acked: dict[str, set[str]] = {"decision": set(), "outcome": set()}
    where: Counter = Counter()
    failures: list[BaseException] = []
    stop = threading.Event()
    lock = threading.Lock()

    def client(agent: str) -> None:
        try:
            while not stop.is_set():
                row = decision(agent, seeded[agent])
                w1 = writer.write([row], [])
                w2 = writer.write([], [outcome(row["decision_id"], True, 7.0)])
                with lock:
                    acked["decision"].add(row["decision_id"])
                    acked["outcome"].add(row["decision_id"])
                    where.update([w1, w2])
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(AGENTS[n % 3],)) for n in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    faulty.backend.fail_now = True
    time.sleep(0.5)
    assert writer.stats()["mode"] == "spooling"
    faulty.backend.fail_now = False
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join(10)
    assert failures == []
    assert where["spool"] > 0 and where["database"] > 0
    wait_until(lambda: drained(writer))
    assert raw.decision_ids() == acked["decision"]
    assert raw.outcome_ids() == acked["outcome"]
    raw.assert_applied_exactly_once()
    stats = writer.stats()
    assert stats["spooled_rows"] == stats["replayed_rows"] > 0
    assert stats["replay_skipped_rows"] == 0 and stats["dead_letters"] == 0
    assert Spool(migrated["spool.path"]).depth() == 0
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("spooling" in m for m in messages)
    assert any("spool replayed" in m for m in messages)


def test_outcome_for_a_spooled_decision(faulty, seeded, raw, writers, migrated):
    writer = writers(faulty, migrated["spool.path"])
    faulty.backend.fail_now = True
    row = decision("a3", seeded["a3"])
    assert writer.write([row], []) == "spool"
    assert writer.write([], [outcome(row["decision_id"], False, 30.0)]) == "spool"
    with pytest.raises(errors.UniqueViolation):  # a second outcome is refused by the spool
        writer.write([], [outcome(row["decision_id"])])
    assert raw.decision_ids() == set()
    faulty.backend.fail_now = False
    wait_until(lambda: drained(writer))
    assert raw.outcome_ids() == {row["decision_id"]}
    assert raw.counters()["a3"] == (1, 0, 1, 30.0)
    raw.assert_applied_exactly_once()
    with pytest.raises(errors.UniqueViolation):  # and by the database once replayed
        writer.write([], [outcome(row["decision_id"])])


def test_lost_commit_acknowledgement_is_not_counted_twice(faulty, seeded, raw, writers, migrated):
    writer = writers(faulty, migrated["spool.path"])
    faulty.backend.lose_commit_acks = True
    row = decision("a1", seeded["a1"])
    # The commit succeeds but its acknowledgement is lost: the writer cannot know, so it spools.
    assert writer.write([row], [outcome(row["decision_id"], True, 9.0)]) == "spool"
    faulty.backend.lose_commit_acks = False
    wait_until(lambda: drained(writer))
    assert faulty.backend.lost_acks == 1
    assert raw.counters()["a1"] == (1, 1, 0, 9.0)
    raw.assert_applied_exactly_once()
    stats = writer.stats()
    assert stats["replay_skipped_rows"] == 2 and stats["replayed_rows"] == 0
    assert stats["replay_dropped_duplicates"] == 0  # the same rows, not a second outcome


def test_second_outcome_accepted_during_an_outage_is_dropped_loudly(
    faulty, seeded, raw, writers, migrated, caplog
):
    writer = writers(faulty, migrated["spool.path"])
    row = decision("a1", seeded["a1"])
    assert writer.write([row], [outcome(row["decision_id"], True, 5.0)]) == "database"
    faulty.backend.fail_now = True
    # Nothing can tell this is a second outcome while the database is down: it is spooled...
    assert writer.write([], [outcome(row["decision_id"], False, 99.0)]) == "spool"
    faulty.backend.fail_now = False
    wait_until(lambda: drained(writer))
    # ...and at replay the first outcome wins, counted once, and the drop is logged.
    assert raw.counters()["a1"] == (1, 1, 0, 5.0)
    raw.assert_applied_exactly_once()
    assert writer.stats()["replay_dropped_duplicates"] == 1
    assert any(
        row["decision_id"] in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    )


def test_spool_rows_already_committed_before_a_crash_replay_as_no_ops(
    db, seeded, raw, writers, migrated, tmp_path
):
    """A crash between the database commit and the spool delete leaves committed rows in the
    spool: the next writer skips them (idempotent on DECISION_ID) and empties the spool."""
    row = decision("a2", seeded["a2"])
    result = outcome(row["decision_id"], True, 11.0)
    first = writers(db, tmp_path / "other-spool.db")
    assert first.write([row], [result]) == "database"
    with Spool(migrated["spool.path"]) as stale:
        assert stale.append(
            [
                [
                    ("decision", row["decision_id"], row),
                    ("outcome", row["decision_id"], outcome_row(result, "")),
                ]
            ]
        ) == [None]
    second = writers(db, migrated["spool.path"])
    wait_until(lambda: drained(second))
    assert raw.counters()["a2"] == (1, 1, 0, 11.0)
    raw.assert_applied_exactly_once()
    stats = second.stats()
    assert stats["replay_skipped_rows"] == 2 and stats["replayed_rows"] == 0


def test_poison_row_goes_to_dead_letters_and_the_rest_replays(
    faulty, seeded, raw, writers, migrated, caplog
):
    writer = writers(faulty, migrated["spool.path"])
    faulty.backend.fail_now = True
    good = decision("a1", seeded["a1"])
    orphan = new_decision_id()
    assert writer.write([], [outcome(orphan)]) == "spool"  # unknown decision: not checkable now
    assert writer.write([good], [outcome(good["decision_id"])]) == "spool"
    faulty.backend.fail_now = False
    wait_until(lambda: drained(writer))
    assert raw.outcome_ids() == {good["decision_id"]}
    raw.assert_applied_exactly_once()
    dead = Spool(migrated["spool.path"]).dead_letters()
    assert [(d["kind"], d["key"]) for d in dead] == [("outcome", orphan)]
    assert dead[0]["error"].startswith("UnknownDecision")
    assert writer.stats()["dead_letters"] == 1
    assert any(orphan in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_database_and_spool_both_down_refuses_instead_of_acknowledging(
    faulty, seeded, raw, writers, migrated, caplog
):
    spool = Spool(migrated["spool.path"], busy_timeout_ms=100)
    writer = writers(faulty, spool)
    holder = sqlite3.connect(migrated["spool.path"], isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the spool cannot be written either
        faulty.backend.fail_now = True
        with pytest.raises(errors.DatabaseUnavailable, match="spool"):
            writer.write([decision("a1", seeded["a1"])], [])
        holder.execute("ROLLBACK")
    finally:
        holder.close()
    assert spool.depth() == 0
    assert any("both unavailable" in r.getMessage() for r in caplog.records)
    row = decision("a1", seeded["a1"])
    assert writer.write([row], []) == "spool"  # the spool is back: acknowledged again
    faulty.backend.fail_now = False
    wait_until(lambda: drained(writer))
    assert raw.decision_ids() == {row["decision_id"]}


def test_stop_while_the_database_is_down_keeps_rows_for_the_next_writer(
    faulty, seeded, raw, writers, migrated
):
    first = writers(faulty, migrated["spool.path"])
    faulty.backend.fail_now = True
    rows = [decision(AGENTS[i % 3], seeded[AGENTS[i % 3]]) for i in range(30)]
    tickets = [
        first.submit([row], [outcome(row["decision_id"], i % 2 == 0, 2.0)])
        for i, row in enumerate(rows)
    ]
    started = time.monotonic()
    assert first.stop(timeout=3.0)
    assert time.monotonic() - started < 2.0
    assert [t.wait(0) for t in tickets] == ["spool"] * 30
    with pytest.raises(ShuttingDown) as refused:
        first.submit([decision("a1", None)], [])
    assert refused.value.retry_after > 0 and isinstance(refused.value, Overloaded)
    assert Spool(migrated["spool.path"]).depth() == 60
    assert raw.decision_ids() == set()
    faulty.backend.fail_now = False
    second = writers(faulty, migrated["spool.path"])
    wait_until(lambda: drained(second))
    assert raw.decision_ids() == {r["decision_id"] for r in rows}
    assert raw.counters()["a1"][:3] == (10, 5, 5)
    raw.assert_applied_exactly_once()
    assert second.stats()["replayed_rows"] == 60


def test_a_crashed_process_leaves_its_spool_to_the_next_one(
    db, seeded, raw, writers, migrated, tmp_path
):
    """A child process acknowledges rows into the spool while its database is down, then dies
    without stopping; a writer started afterwards replays them all."""
    flag = tmp_path / "database-down"
    flag.touch()
    script = textwrap.dedent("""
        import os, sys
        from app.db.database import Database, PoolSettings
        from app.db.retry import Backoff
        from app.db.faults import FaultySqliteBackend
        from app.db.spool import Spool
        from app.db.store.decisions import decision_row
        from app.db.writer import Writer
        from app.ids import new_decision_id

        db_path, spool_path, flag = sys.argv[1:4]
        db = Database(FaultySqliteBackend(db_path, flag_path=flag),
                      pool=PoolSettings(min_size=0, max_size=2, acquire_timeout=0.2),
                      backoff=Backoff(retries=1, initial=0.01, cap=0.02))
        db.start()
        writer = Writer(db, Spool(spool_path), acquire_timeout_s=0.2).start()
        for i in range(20):
            did = new_decision_id()
            row = decision_row({"decision_id": did, "decided_at": "2030-01-02 03:04:05.000000",
                                "agent_id": "a1", "model_id": "m1", "assignment_id": sys.argv[4]})
            where = writer.write([row], [{"decision_id": did, "success": i % 4 != 0,
                                          "latency_ms": 5.0}])
            print(did, where, flush=True)
        os._exit(0)
    """)
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            migrated["sqlite.path"],
            migrated["spool.path"],
            str(flag),
            seeded["a1"],
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    acked = dict(line.split() for line in child.stdout.splitlines())
    assert len(acked) == 20 and set(acked.values()) == {"spool"}
    assert raw.decision_ids() == set()
    flag.unlink()
    writer = writers(db, migrated["spool.path"])
    wait_until(lambda: drained(writer))
    assert raw.decision_ids() == raw.outcome_ids() == set(acked)
    assert raw.counters()["a1"][:3] == (20, 15, 5)
    raw.assert_applied_exactly_once()


# -- backpressure, timeouts, shutdown -------------------------------------------------------------


def test_a_stalled_database_makes_submit_refuse_at_once(db, seeded, raw, writers, migrated):
    # a stall shorter than the commit deadline: the writer waits, and its queue fills
    writer = writers(
        db, migrated["spool.path"], queue_max=20, max_batch=5, max_wait_ms=0.0,
        commit_deadline_ms=10_000,
    )  # fmt: skip
    holder = sqlite3.connect(migrated["sqlite.path"], isolation_level=None)
    accepted = []
    try:
        holder.execute("BEGIN IMMEDIATE")  # the writer's BEGIN IMMEDIATE now waits
        accepted.append(writer.submit([decision("a1", seeded["a1"])], []))
        wait_until(lambda: writer.stats()["queue_depth_rows"] == 0)  # taken, and stuck
        while len(accepted) <= 30:
            started = time.monotonic()
            try:
                accepted.append(writer.submit([decision("a1", seeded["a1"])], []))
            except Overloaded as exc:
                refused_in, retry_after = time.monotonic() - started, exc.retry_after
                break
        assert len(accepted) == 21  # the one the writer holds, plus a full queue
        assert refused_in < 0.05 and 0 < retry_after <= 5
        for _ in range(50):
            with pytest.raises(Overloaded):
                writer.submit([decision("a1", seeded["a1"])], [])
        stats = writer.stats()
        assert stats["queue_depth_rows"] <= 20 and stats["overloaded"] == 51
        assert not any(t.done for t in accepted)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [t.wait(5.0) for t in accepted] == ["database"] * len(accepted)
    assert raw.one("SELECT COUNT(*) FROM ROUTING_DECISIONS") == len(accepted)


def test_a_timed_out_request_is_withdrawn_if_the_writer_has_not_taken_it(
    db, seeded, raw, writers, migrated
):
    writer = writers(
        db, migrated["spool.path"], max_batch=1, max_wait_ms=0.0, commit_deadline_ms=10_000
    )
    holder = sqlite3.connect(migrated["sqlite.path"], isolation_level=None)
    first, second = decision("a1", seeded["a1"]), decision("a1", seeded["a1"])
    try:
        holder.execute("BEGIN IMMEDIATE")
        taken = writer.submit([first], [])
        wait_until(lambda: writer.stats()["queue_depth_rows"] == 0)  # the writer holds it
        queued = writer.submit([second], [])
        started = time.monotonic()
        with pytest.raises(WriteTimeout) as late:
            queued.wait(0.1)
        assert 0.1 <= time.monotonic() - started < 0.3
        assert late.value.written is False
        with pytest.raises(WriteTimeout) as unknown:
            taken.wait(0.05)
        assert unknown.value.written is None
        assert writer.stats()["withdrawn"] == 1 and writer.stats()["queue_depth_rows"] == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert taken.wait(5.0) == "database"
    with pytest.raises(WriteTimeout):
        queued.wait(0)
    assert raw.decision_ids() == {first["decision_id"]}


def test_stop_drains_the_queue_into_the_database(db, seeded, raw, writers, migrated):
    writer = writers(db, migrated["spool.path"], max_wait_ms=50.0, max_batch=20)
    tickets = [writer.submit([decision("a2", seeded["a2"])], []) for _ in range(50)]
    assert writer.stop(timeout=5.0)
    assert [t.wait(0) for t in tickets] == ["database"] * 50
    assert raw.one("SELECT COUNT(*) FROM ROUTING_DECISIONS") == 50
    assert writer.stats()["state"] == "stopped"
    with pytest.raises(ShuttingDown):
        writer.write([decision("a2", seeded["a2"])], [])
