"""Writes are all or nothing: a failure inside SP_APPLY_OUTCOMES or an assignment run leaves no
partial rows; the database itself refuses a second outcome; concurrent run activations (real
threads, real SQLite file) leave exactly one active assignment per agent, and readers never see
zero or two."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from app.db import errors, store
from app.ids import new_decision_id

AGENTS = [f"at-agent-{i}" for i in range(5)]
MODELS = [f"at-model-{i}" for i in range(4)]


@pytest.fixture
def catalog(db):
    for m in MODELS:
        store.create_model(
            db, {"id": m, "endpoint": f"http://{m}", "context_window": 8192, "max_concurrency": 4}
        )
    for a in AGENTS:
        store.create_agent(db, {"id": a})
    run = store.create_assignment_run(
        db, {"method": "greedy"}, [{"agent_id": a, "model_id": MODELS[0]} for a in AGENTS]
    )
    return {a["agent_id"]: a["assignment_id"] for a in run["assignments"]}


def decisions(assignments: dict, n: int) -> list[dict]:
    now = datetime.now(UTC) - timedelta(minutes=5)
    return [
        {
            "decision_id": new_decision_id(),
            "decided_at": now,
            "agent_id": AGENTS[i % 5],
            "model_id": MODELS[0],
            "assignment_id": assignments[AGENTS[i % 5]],
        }
        for i in range(n)
    ]


def snapshot(db) -> dict:
    """Everything a batch of outcomes can change, read through the store."""
    return {
        "assignments": store.get_active_assignments(db),
        "stats": store.get_routing_stats(db, 24),
        "pairs": store.get_top_agent_model_pairs(db, 1000),
        "hourly": store.list_hourly_model_metrics(
            db, datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC)
        ),
        "health": store.get_model_health(db),  # the per-minute rollup
    }


def test_failure_inside_apply_outcomes_leaves_nothing(db, catalog):
    rows = decisions(catalog, 4)
    store.save_routing_decisions(db, rows)
    store.save_metrics_batch(
        db,
        [
            {
                "decision_id": rows[0]["decision_id"],
                "success": True,
                "latency_ms": 10.0,
                "tokens_in": 5,
            }
        ],
        "first",
    )
    before = snapshot(db)
    # Two outcomes whose token counts each fit the column but whose sum overflows a 64-bit
    # integer: SP_APPLY_OUTCOMES fails at its rollup step, after it has already recorded the
    # batch and updated the assignment counters.
    huge = [
        {"decision_id": r["decision_id"], "success": False, "latency_ms": 20.0, "tokens_in": 2**62}
        for r in rows[1:3]
    ]
    with pytest.raises(errors.DatabaseError):
        store.save_metrics_batch(db, huge, "overflow")
    assert snapshot(db) == before
    assert all(store.get_decision(db, r["decision_id"])["outcome"] is None for r in rows[1:3])
    # The batch id was not recorded either: the same id applies cleanly once the data is sane.
    fixed = [{**o, "tokens_in": 7} for o in huge]
    assert store.save_metrics_batch(db, fixed, "overflow")["applied"] == 2
    assert snapshot(db) != before


def test_reused_batch_id_is_refused(db, catalog):
    rows = decisions(catalog, 2)
    store.save_routing_decisions(db, rows)
    store.save_metrics_batch(
        db, [{"decision_id": rows[0]["decision_id"], "success": True, "latency_ms": 1.0}], "same"
    )
    with pytest.raises(errors.ProcedureError) as info:
        store.save_metrics_batch(
            db,
            [{"decision_id": rows[1]["decision_id"], "success": True, "latency_ms": 1.0}],
            "same",
        )
    assert info.value.code == 10007
    assert store.get_decision(db, rows[1]["decision_id"])["outcome"] is None


def test_second_outcome_is_refused_by_the_key(db, catalog):
    rows = decisions(catalog, 3)
    store.save_routing_decisions(db, rows)
    first = {"decision_id": rows[0]["decision_id"], "success": True, "latency_ms": 5.0}
    store.save_metrics_batch(db, [first], "b1")
    before = snapshot(db)
    # A later batch repeating an outcome: refused, and its other outcome is not kept either.
    other = {"decision_id": rows[1]["decision_id"], "success": True, "latency_ms": 6.0}
    with pytest.raises(errors.UniqueViolation):
        store.save_metrics_batch(db, [other, {**first, "success": False}], "b2")
    # The same decision twice in one batch.
    with pytest.raises(errors.UniqueViolation):
        store.save_metrics_batch(
            db,
            [
                {**other, "decision_id": rows[2]["decision_id"]},
                {**other, "decision_id": rows[2]["decision_id"]},
            ],
            "b3",
        )
    assert snapshot(db) == before
    assert store.get_decision(db, rows[0]["decision_id"])["outcome"]["success"] is True
    assert store.get_decision(db, rows[1]["decision_id"])["outcome"] is None


def test_outcome_for_unknown_decision_is_reported_not_stored(db, catalog):
    rows = decisions(catalog, 1)
    store.save_routing_decisions(db, rows)
    ghost = new_decision_id()
    result = store.save_metrics_batch(
        db,
        [
            {"decision_id": rows[0]["decision_id"], "success": True, "latency_ms": 3.0},
            {"decision_id": ghost, "success": True, "latency_ms": 3.0},
        ],
        "with-ghost",
    )
    assert result == {"batch_id": "with-ghost", "applied": 1, "missing": [ghost]}


def test_failed_assignment_run_leaves_no_rows(db, catalog):
    before = store.get_active_assignments(db)
    bad = [
        {"agent_id": AGENTS[0], "model_id": MODELS[1]},
        {"agent_id": AGENTS[1], "model_id": MODELS[1]},
        {"agent_id": AGENTS[2], "model_id": "at-model-unknown"},
    ]
    with pytest.raises(errors.ConstraintViolation):
        store.create_assignment_run(db, {"method": "hungarian", "run_id": "bad-run"}, bad)
    assert store.get_assignment_run(db, "bad-run") is None
    assert store.get_active_assignments(db) == before
    twice = [
        {"agent_id": AGENTS[0], "model_id": MODELS[1]},
        {"agent_id": AGENTS[0], "model_id": MODELS[2]},
    ]
    with pytest.raises(errors.UniqueViolation):
        store.create_assignment_run(db, {"method": "hungarian", "run_id": "dup-run"}, twice)
    assert store.get_assignment_run(db, "dup-run") is None
    assert store.get_active_assignments(db) == before


def test_activation_rolled_back_with_its_transaction(db, catalog):
    before = store.get_active_assignments(db)
    run = store.create_assignment_run(
        db,
        {"method": "greedy"},
        [{"agent_id": a, "model_id": MODELS[2]} for a in AGENTS],
        activate=False,
    )
    assert run["status"] == "pending"

    class Abort(Exception):
        pass

    with pytest.raises(Abort), db.transaction() as conn:
        activated = store.activate_assignment_run(db, run["run_id"], conn=conn)
        assert {a["status"] for a in activated["assignments"]} == {"active"}
        raise Abort
    assert store.get_active_assignments(db) == before
    assert store.get_assignment_run(db, run["run_id"])["status"] == "pending"
    store.activate_assignment_run(db, run["run_id"])
    with pytest.raises(errors.ProcedureError) as info:
        store.activate_assignment_run(db, run["run_id"])
    assert info.value.code == 10005


def test_dry_run_and_empty_run_cannot_be_activated(db, catalog):
    dry = store.create_assignment_run(
        db,
        {"method": "hungarian", "dry_run": True},
        [{"agent_id": AGENTS[0], "model_id": MODELS[3]}],
    )
    assert dry["status"] == "dry_run" and store.get_latest_assignment_run(db)["dry_run"]
    with pytest.raises(errors.ProcedureError) as info:
        store.activate_assignment_run(db, dry["run_id"])
    assert info.value.code == 10005
    with pytest.raises(errors.ProcedureError) as info:
        store.create_assignment_run(db, {"method": "greedy"}, [])
    assert info.value.code == 10006


@pytest.mark.slow
def test_concurrent_activations_keep_one_active_assignment_per_agent(db, catalog):
    # Eight pending runs over overlapping agent sets, activated at once from eight threads while
    # a reader checks every snapshot it sees.
    runs = []
    for i in range(8):
        agents = AGENTS if i % 2 == 0 else AGENTS[i % 3 : i % 3 + 3]
        run = store.create_assignment_run(
            db,
            {"method": "hungarian"},
            [{"agent_id": a, "model_id": MODELS[i % 4]} for a in agents],
            activate=False,
        )
        runs.append(run["run_id"])
    start = threading.Barrier(len(runs) + 1)
    done = threading.Event()
    failures: list[BaseException] = []
    seen: list[int] = []

    def activate(run_id):
        try:
            start.wait()
            store.activate_assignment_run(db, run_id)
        except BaseException as exc:  # reported below
            failures.append(exc)

    def read():
        try:
            start.wait()
            while not done.is_set():
                active = store.get_active_assignments(db)
                assert sorted(a["agent_id"] for a in active) == AGENTS
                seen.append(len(active))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=activate, args=(r,)) for r in runs]
    reader = threading.Thread(target=read)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join(30)
    done.set()
    reader.join(30)
    assert failures == []
    assert seen  # the reader saw snapshots while activations ran
    active = store.get_active_assignments(db)
    assert sorted(a["agent_id"] for a in active) == AGENTS
    statuses = [store.get_assignment_run(db, r)["status"] for r in runs]
    assert set(statuses) <= {"active", "superseded"} and "pending" not in statuses
    # Each agent's active assignment comes from the last activated run that covers it, and a
    # run stays "active" exactly while it still holds an active assignment.
    holders = {a["run_id"] for a in active}
    assert {r for r, s in zip(runs, statuses, strict=True) if s == "active"} == holders
