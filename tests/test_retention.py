"""Retention: SP_PURGE_HISTORY drops raw rows past `retention.days` and keeps the rollups.

Raw decisions, outcomes and load snapshots are stored with known ages on both sides of the
cutoff (45, 31, 29 days and 2 hours old); every analytics answer that reads rollups (hourly
metrics of the purged hours, routing stats over a year, one model's performance, top pairs) is
read before and after the purge and must not change. The purge runs four ways: one bounded
step through `store.purge_history`, steps until done through `store.purge_history_in_steps`,
through the service's own background task (the `retention` task that Services.build wires from
the settings, on its own thread), and through `Background.run_due` on an injected clock while
the database is down and after it returns. A bounded step deletes exactly the oldest decisions
with exactly their outcomes; a stepped purge leaves the write lock to the writer between steps.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from support import FakeClock

from app.background import Background, Task
from app.db import errors, store
from app.db.database import Database, PoolSettings
from app.db.faults import FaultySqliteBackend
from app.db.retry import Backoff
from app.ids import new_decision_id

RETENTION_DAYS = 30
# (age, decisions) per model; outcomes for every decision but the last of each group.
AGES = {timedelta(days=45): 6, timedelta(days=31): 4, timedelta(days=29): 3, timedelta(hours=2): 5}
MODELS = ("ret-model-a", "ret-model-b")
AGENT = "ret-agent"


@pytest.fixture
def overrides(overrides):
    """The conftest settings plus an hourly retention task kept to 30 days, in steps of 3 rows."""
    return {
        **overrides,
        "retention.days": RETENTION_DAYS,
        "retention.interval_s": 3600.0,
        "retention.batch_rows": 3,
        "retention.pause_ms": 0,
    }


def seed(db, now: datetime) -> dict:
    """Decisions, outcomes and load snapshots of known ages; returns what is old and what stays."""
    store.create_agent(db, {"id": AGENT, "task_type": "chat", "requirements": {"chat": 1.0}})
    for model in MODELS:
        store.create_model(
            db,
            {
                "id": model,
                "endpoint": f"http://{model}",
                "context_window": 8192,
                "max_concurrency": 4,
                "capabilities": {"chat": 0.8},
            },
        )
    decisions, outcomes = [], []
    for age, count in AGES.items():
        for model in MODELS:
            for i in range(count):
                decided_at = now - age + timedelta(seconds=i)
                decision = {
                    "decision_id": new_decision_id(),
                    "decided_at": decided_at,
                    "agent_id": AGENT,
                    "task_type": "chat",
                    "model_id": model,
                    "strategy": "adaptive",
                    "score": 0.8,
                    "reason": "retention test",
                }
                decisions.append(decision)
                if i < count - 1:
                    outcomes.append(
                        {
                            "decision_id": decision["decision_id"],
                            "success": i % 3 != 0,
                            "latency_ms": 100.0 + 10 * i,
                            "tokens_in": 50 + i,
                            "tokens_out": 20 + i,
                            "recorded_at": decided_at + timedelta(seconds=1),
                        }
                    )
    store.save_routing_decisions(db, decisions)
    result = store.save_metrics_batch(db, outcomes, "retention-batch")
    assert result["applied"] == len(outcomes) and result["missing"] == []
    snapshots = [
        {"model_id": model, "in_flight": 1, "utilization": 0.25, "snapshot_at": now - age}
        for age in AGES
        for model in MODELS
    ]
    store.save_load_snapshots(db, snapshots)
    cutoff = now - timedelta(days=RETENTION_DAYS)
    with_outcome = {o["decision_id"] for o in outcomes}
    old = [d for d in decisions if d["decided_at"] < cutoff]
    return {
        "old": old,
        "kept": [d for d in decisions if d["decided_at"] >= cutoff],
        "old_outcomes": sum(1 for d in old if d["decision_id"] in with_outcome),
        "old_snapshots": sum(1 for s in snapshots if s["snapshot_at"] < cutoff),
    }


def analytics(db, now: datetime) -> dict:
    """Every answer that reads rollups, over windows that include the purged hours."""
    return {
        "hourly": store.list_hourly_model_metrics(
            db, now - timedelta(days=60), now + timedelta(hours=1)
        ),
        "stats": store.get_routing_stats(db, 8760),
        "performance": [store.get_model_performance(db, m, 8760) for m in MODELS],
        "top_pairs": store.get_top_agent_model_pairs(db, 10),
    }


def assert_purged(db, seeded: dict) -> None:
    assert all(store.get_decision(db, d["decision_id"]) is None for d in seeded["old"])
    kept = [store.get_decision(db, d["decision_id"]) for d in seeded["kept"]]
    assert all(k is not None for k in kept)


def test_purge_drops_old_raw_rows_and_keeps_rollups(db):
    now = datetime.now(UTC)
    seeded = seed(db, now)
    before = analytics(db, now)
    old_hours = [
        h
        for h in before["hourly"]
        if datetime.fromisoformat(h["hour_start"]) < now - timedelta(days=30)
    ]
    assert len(old_hours) == 2 * len(MODELS)  # the 45- and 31-day-old hours have rollups

    result = store.purge_history(db, RETENTION_DAYS, max_rows=1000)

    assert result["retention_days"] == RETENTION_DAYS
    cutoff = datetime.fromisoformat(result["cutoff"])
    assert abs(cutoff - (now - timedelta(days=RETENTION_DAYS))) < timedelta(minutes=1)
    assert result["decisions"] == len(seeded["old"]) == 2 * (6 + 4)
    assert result["outcomes"] == seeded["old_outcomes"] == 2 * (5 + 3)
    assert result["load_snapshots"] == seeded["old_snapshots"] == 2 * len(MODELS)
    assert_purged(db, seeded)
    assert analytics(db, now) == before  # rollups survive: old hours still answer the same
    again = store.purge_history(db, RETENTION_DAYS, max_rows=1000)
    assert (again["decisions"], again["outcomes"], again["load_snapshots"]) == (0, 0, 0)
    assert again["purge_id"] > result["purge_id"]


def minute_starts(db) -> list[str]:
    with sqlite3.connect(db.backend.path) as conn:
        rows = conn.execute("SELECT DISTINCT MINUTE_START FROM MODEL_METRICS_MINUTELY")
        return sorted(r[0] for r in rows)


@pytest.mark.parametrize("days", [RETENTION_DAYS, 1])
def test_purge_drops_minute_rollups_older_than_2_days_whatever_the_retention(db, days):
    """MODEL_METRICS_MINUTELY serves only the live windows (at most 1440 minutes): the purge keeps
    its last 2 days, even with a longer retention of raw rows; the result keeps its shape."""
    now = datetime.now(UTC)
    seed(db, now)  # outcomes 45, 31, 29 days and 2 hours old: minute rows for the 2 hours one
    # minutes written while they were recent, now 3 days and 47 hours old (SP_APPLY_OUTCOMES
    # writes no minute row for a decision already older than 1440 minutes)
    with sqlite3.connect(db.backend.path) as conn:
        conn.executemany(
            "INSERT INTO MODEL_METRICS_MINUTELY (MINUTE_START, MODEL_ID, BUCKET, SAMPLES, "
            "SUCCESSES, LATENCY_SUM_MS) VALUES (?, ?, 42, 1, 1, 5.0)",
            [
                ((now - age).strftime("%Y-%m-%d %H:%M:00.000000"), MODELS[0])
                for age in (timedelta(days=3), timedelta(hours=47))
            ],
        )
    before = minute_starts(db)

    result = store.purge_history(db, days, max_rows=1000)

    # no minute lies near the cutoff (now - 2 days): compare with our own clock
    cutoff = (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S.%f")
    recent = [m for m in before if m >= cutoff]
    assert minute_starts(db) == recent
    assert len(recent) == len(before) - 1  # the 3-day-old minute is gone
    assert recent[0] == (now - timedelta(hours=47)).strftime("%Y-%m-%d %H:%M:00.000000")
    assert set(result) == {
        "purge_id",
        "purged_at",
        "retention_days",
        "cutoff",
        "decisions",
        "outcomes",
        "load_snapshots",
        "alerts",
        "outcome_batches",
        "minute_rollups",
    }
    assert result["minute_rollups"] == 1


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_purge_refuses_a_retention_outside_its_range(db, days):
    with pytest.raises(errors.ProcedureError) as info:
        store.purge_history(db, days, max_rows=1000)
    assert info.value.code == 10001


def test_the_services_retention_task_purges_on_schedule(app, overrides):
    services = app.extensions["services"]
    assert [t.name for t in services.maintenance.tasks] == ["retention"]  # its own thread
    assert "retention" not in {t.name for t in services.background.tasks}
    assert services.maintenance.tasks[0].interval_s == 3600.0
    now = datetime.now(UTC)
    seeded = seed(services.db, now)
    before = analytics(services.db, now)

    services.maintenance.run_due()  # due once at start: 20 old decisions, 3 rows a step

    figures = services.maintenance.figures()["retention"]
    assert figures == {"runs": 1, "failures": 0, "failing": False}
    assert_purged(services.db, seeded)
    assert analytics(services.db, now) == before
    assert purge_rows(services.db) == 7  # ceil(20 / 3) steps, one HISTORY_PURGES row each
    services.maintenance.run_due()  # not due again for an hour
    assert services.maintenance.figures()["retention"]["runs"] == 1


def test_no_retention_task_when_its_interval_is_zero(overrides):
    from app import create_app

    application = create_app({**overrides, "retention.interval_s": 0})
    try:
        services = application.extensions["services"]
        names = {t.name for t in services.background.tasks}
        assert "retention" not in names and "alerts" in names
        assert services.maintenance.tasks == []
    finally:
        application.extensions["services"].stop()


def test_a_purge_that_fails_while_the_database_is_down_runs_at_its_next_interval(migrated, caplog):
    backend = FaultySqliteBackend(migrated["sqlite.path"])
    db = Database(
        backend,
        pool=PoolSettings(min_size=1, max_size=2, acquire_timeout=0.2),
        backoff=Backoff(retries=1, initial=0.0, cap=0.0),
    )
    db.start()
    try:
        now = datetime.now(UTC)
        seeded = seed(db, now)
        clock = FakeClock()
        runner = Background(
            [
                Task(
                    "retention",
                    60.0,
                    lambda: store.purge_history(db, RETENTION_DAYS, max_rows=1000),
                )
            ],
            clock,
        )
        backend.fail_now = True
        with caplog.at_level(logging.INFO, logger="app.background"):
            assert runner.run_due() == 60.0
            clock.now += 60.0
            runner.run_due()
            assert runner.figures()["retention"] == {"runs": 2, "failures": 2, "failing": True}
            warnings = [
                r
                for r in caplog.records
                if r.name == "app.background" and r.levelno == logging.WARNING
            ]
            assert len(warnings) == 1  # once per failure streak, not once per attempt
            assert "background task retention failed" in warnings[0].getMessage()
            assert "DatabaseUnavailable" in warnings[0].getMessage()

            backend.fail_now = False
            clock.now += 30.0
            runner.run_due()  # not due yet: the interval counts from the failed attempt
            assert runner.figures()["retention"]["runs"] == 2
            clock.now += 30.0
            runner.run_due()
        assert runner.figures()["retention"] == {"runs": 3, "failures": 2, "failing": False}
        assert any(r.getMessage() == "background task retention recovered" for r in caplog.records)
        assert_purged(db, seeded)
    finally:
        db.close()


def purge_rows(db) -> int:
    with sqlite3.connect(db.backend.path) as conn:
        return conn.execute("SELECT COUNT(*) FROM HISTORY_PURGES").fetchone()[0]


def raw_ids(db) -> tuple[set[str], set[str]]:
    """Decision ids of ROUTING_DECISIONS and of INFERENCE_METRICS."""
    with sqlite3.connect(db.backend.path) as conn:
        decisions = {r[0] for r in conn.execute("SELECT DECISION_ID FROM ROUTING_DECISIONS")}
        outcomes = {r[0] for r in conn.execute("SELECT DECISION_ID FROM INFERENCE_METRICS")}
    return decisions, outcomes


@pytest.mark.parametrize("max_rows", [1, 7, 19])
def test_a_bounded_step_deletes_the_oldest_decisions_with_exactly_their_outcomes(db, max_rows):
    now = datetime.now(UTC)
    seeded = seed(db, now)
    decisions_before, outcomes_before = raw_ids(db)
    oldest = sorted(seeded["old"], key=lambda d: (d["decided_at"], d["decision_id"]))
    doomed = {d["decision_id"] for d in oldest[:max_rows]}

    result = store.purge_history(db, RETENTION_DAYS, max_rows=max_rows)

    decisions, outcomes = raw_ids(db)
    assert decisions == decisions_before - doomed  # the rest, old ones included, remain
    assert outcomes == outcomes_before - doomed
    assert result["decisions"] == max_rows
    assert result["outcomes"] == len(outcomes_before & doomed)
    assert result["load_snapshots"] == min(max_rows, seeded["old_snapshots"])
    with sqlite3.connect(db.backend.path) as conn:
        stored = conn.execute(
            "SELECT DECISIONS, OUTCOMES, LOAD_SNAPSHOTS FROM HISTORY_PURGES WHERE PURGE_ID = ?",
            (result["purge_id"],),
        ).fetchone()
    assert stored == (result["decisions"], result["outcomes"], result["load_snapshots"])


@pytest.mark.parametrize(("max_rows", "steps"), [(3, 7), (5, 5), (20, 2), (50, 1)])
def test_a_stepped_purge_removes_everything_old_in_ceil_n_over_max_rows_steps(db, max_rows, steps):
    """20 old decisions: ceil(20 / max_rows) steps, one more when the last step was full."""
    now = datetime.now(UTC)
    seeded = seed(db, now)
    before = analytics(db, now)
    purges = purge_rows(db)

    result = store.purge_history_in_steps(db, RETENTION_DAYS, max_rows, 0.0, 60.0)

    assert result == {
        "decisions": len(seeded["old"]),
        "outcomes": seeded["old_outcomes"],
        "load_snapshots": seeded["old_snapshots"],
        "alerts": 0,
        "outcome_batches": 0,
        "minute_rollups": 0,
        "steps": steps,
        "complete": True,
    }
    assert steps == math.ceil(len(seeded["old"]) / max_rows) + (len(seeded["old"]) % max_rows == 0)
    assert purge_rows(db) == purges + steps  # one HISTORY_PURGES row per step
    assert_purged(db, seeded)
    assert len(raw_ids(db)[0]) == len(seeded["kept"])  # nothing newer touched
    assert analytics(db, now) == before


def test_a_deadline_stops_the_stepped_purge_and_the_next_run_finishes(db, caplog):
    now = datetime.now(UTC)
    seeded = seed(db, now)

    with caplog.at_level(logging.INFO, logger="app.db.store.alerts"):
        first = store.purge_history_in_steps(db, RETENTION_DAYS, 3, 0.0, 0.0)
    assert (first["steps"], first["decisions"], first["complete"]) == (1, 3, False)
    assert "history purge paused after 1 steps" in caplog.text
    stop = threading.Event()
    stop.set()  # the service is stopping: also one step, then out
    second = store.purge_history_in_steps(db, RETENTION_DAYS, 3, 10.0, 60.0, stop=stop)
    assert (second["steps"], second["decisions"], second["complete"]) == (1, 3, False)

    last = store.purge_history_in_steps(db, RETENTION_DAYS, 3, 0.0, 60.0)

    assert last["complete"] and last["steps"] == 5  # 14 decisions left: 3+3+3+3+2
    assert first["decisions"] + second["decisions"] + last["decisions"] == len(seeded["old"])
    outcomes = first["outcomes"] + second["outcomes"] + last["outcomes"]
    assert outcomes == seeded["old_outcomes"]
    assert_purged(db, seeded)


@pytest.mark.parametrize("max_rows", [0, -5, None, 2.5, "10"])
def test_purge_refuses_a_max_rows_below_one(db, max_rows):
    with pytest.raises(errors.ProcedureError) as info:
        store.purge_history(db, RETENTION_DAYS, max_rows=max_rows)
    assert info.value.code == 10001
    assert "p_max_rows" in str(info.value)
    assert purge_rows(db) == 0  # refused before anything is written


def test_the_writer_is_not_stalled_by_a_stepped_purge(db):
    """20,000 old decisions with outcomes, 1,000 a step: single-row writes on other connections
    wait about one step at most, never the whole purge."""
    now = datetime.now(UTC)
    seed(db, now)  # the agent and models
    old = now - timedelta(days=RETENTION_DAYS + 5)
    decisions = [
        {
            "decision_id": new_decision_id(),
            "decided_at": old + timedelta(milliseconds=i),
            "agent_id": AGENT,
            "model_id": MODELS[i % 2],
        }
        for i in range(20_000)
    ]
    store.save_routing_decisions(db, decisions)
    outcomes = [
        {"decision_id": d["decision_id"], "success": True, "latency_ms": 50.0} for d in decisions
    ]
    store.save_metrics_batch(db, outcomes, "stall-batch")

    result: dict = {}
    stop = threading.Event()
    purge = threading.Thread(
        target=lambda: result.update(
            store.purge_history_in_steps(db, RETENTION_DAYS, 1000, 0.05, 120.0, stop=stop)
        )
    )
    waits = []
    started = time.monotonic()
    purge.start()
    try:
        while purge.is_alive():
            decision = {
                "decision_id": new_decision_id(),
                "decided_at": datetime.now(UTC),
                "agent_id": AGENT,
                "model_id": MODELS[0],
            }
            t = time.monotonic()
            store.save_routing_decisions(db, [decision])
            waits.append(time.monotonic() - t)
            time.sleep(0.002)  # a busy writer, not a lock-holding spin
    finally:
        stop.set()
        purge.join()
    elapsed = time.monotonic() - started

    assert result["complete"] and result["decisions"] == 20_000 + 20
    assert result["steps"] == 21
    assert len(waits) >= 20  # writes went on throughout the purge
    # 20 pauses of 50 ms: the purge takes over 1 s. One transaction for everything would make
    # a write wait about as long as the whole purge; steps make it wait one step at most.
    assert elapsed > 1.0
    assert max(waits) < min(1.0, elapsed / 2)
