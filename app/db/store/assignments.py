"""Assignment runs (auto-assign or manual pin) and the agent -> model assignments they hold.

Assignments are always inserted pending; SP_ACTIVATE_ASSIGNMENT_RUN swaps a run in atomically,
so "one active assignment per agent" is kept by the database, never by Python.
"""

from __future__ import annotations

import uuid

from app.db.store._common import (
    api_time,
    as_float,
    flag,
    from_json,
    now,
    reading,
    write,
)


def _assignment_row(run_id: str, method: str, assignment: dict, at: str) -> dict:
    return {
        "assignment_id": assignment.get("assignment_id") or str(uuid.uuid4()),
        "run_id": run_id,
        "agent_id": assignment["agent_id"],
        "model_id": assignment["model_id"],
        "score": assignment.get("score"),
        "method": assignment.get("method") or method,
        "assigned_at": at,
    }


def save_assignments(
    db, run_id: str, method: str, assignments: list[dict], conn=None
) -> list[dict]:
    """Insert pending assignments of an existing run; returns them with their ids."""
    at = now()
    rows = [_assignment_row(run_id, method, a, at) for a in assignments]
    write(db, lambda c: db.executemany(c, "insert-assignment", rows), conn)
    return rows


def save_assignment(db, run_id: str, method: str, assignment: dict, conn=None) -> dict:
    return save_assignments(db, run_id, method, [assignment], conn)[0]


def create_assignment_run(
    db, run: dict, assignments: list[dict], *, activate: bool = True, conn=None
) -> dict:
    """Store a run and its assignments pending, then (unless a dry run) activate it.

    `run`: {"method", "total_score"?, "greedy_total_score"?, "improvement_pct"?,
    "unassigned"?: [{"agent_id", "reason"}], "dry_run"?, "run_id"?}. All in one transaction: a
    failure anywhere leaves neither the run nor any of its assignments.
    """
    run_id = run.get("run_id") or str(uuid.uuid4())
    dry_run = bool(run.get("dry_run"))
    at = now()
    params = {
        "run_id": run_id,
        "method": run["method"],
        "status": "dry_run" if dry_run else "pending",
        "total_score": run.get("total_score"),
        "greedy_total_score": run.get("greedy_total_score"),
        "improvement_pct": run.get("improvement_pct"),
        "created_at": at,
    }
    rows = [_assignment_row(run_id, run["method"], a, at) for a in assignments]
    unassigned = [
        {"run_id": run_id, "agent_id": u["agent_id"], "reason": u["reason"]}
        for u in run.get("unassigned") or []
    ]

    def work(c):
        db.execute(c, "insert-assignment-run", params)
        db.executemany(c, "insert-assignment", rows)
        db.executemany(c, "insert-run-unassigned", unassigned)
        if activate and not dry_run:
            db.call(c, "SP_ACTIVATE_ASSIGNMENT_RUN", {"p_run_id": run_id})
        return _run(db, c, run_id)

    return write(db, work, conn)


def activate_assignment_run(db, run_id: str, conn=None) -> dict:
    """Activate a pending run (errors 10003, 10005, 10006); returns the run."""

    def work(c):
        db.call(c, "SP_ACTIVATE_ASSIGNMENT_RUN", {"p_run_id": run_id})
        return _run(db, c, run_id)

    return write(db, work, conn)


def pin_assignment(db, agent_id: str, model_id: str, score: float | None = None) -> dict:
    """Manually assign a model to an agent: a one-assignment 'manual' run, activated at once."""
    run = create_assignment_run(
        db, {"method": "manual"}, [{"agent_id": agent_id, "model_id": model_id, "score": score}]
    )
    return run["assignments"][0]


def get_assignment_run(db, run_id: str) -> dict | None:
    with reading(db) as conn:
        return _run(db, conn, run_id)


def get_latest_assignment_run(db) -> dict | None:
    """The newest run (any method, dry runs included): the dashboard's last auto-assign."""
    with reading(db) as conn:
        rows = db.query(conn, "get-latest-assignment-run")
        return _run(db, conn, rows[0]["run_id"]) if rows else None


def list_assignment_runs(db, limit: int = 10, *, scored_only: bool = False) -> list[dict]:
    """The newest `limit` runs first, with their totals but without their assignments.

    Each: {"run_id", "method", "status", "dry_run", "total_score", "greedy_total_score",
    "improvement_pct", "unassigned", "created_at", "activated_at"}. `scored_only` keeps the runs
    that have a total score (auto-assign runs, dry runs included; manual pins have none).
    """
    params = {"limit": int(limit), "scored_only": flag(scored_only)}
    with reading(db) as conn:
        rows = db.query(conn, "list-assignment-runs", params)
        since = min((r["created_at"] for r in rows), default=None)
        members = (
            []
            if since is None
            else db.query(conn, "list-unassigned-of-runs-since", {"since": since})
        )
    by_run: dict[str, list[dict]] = {}
    for m in members:
        by_run.setdefault(m["run_id"], []).append(m)
    return [_run_summary(r, by_run.get(r["run_id"], [])) for r in rows]


def get_active_assignments(db) -> list[dict]:
    """Every agent's active assignment with its counters (V_ACTIVE_ASSIGNMENTS)."""
    with reading(db) as conn:
        rows = db.query(conn, "list-active-assignments")
    return [_active(row) for row in rows]


def update_assignment_metrics(
    db, assignment_id: str, success: bool, latency_ms: float, conn=None
) -> dict:
    """Count one outcome against an assignment (error 10002 when unknown); its counters."""
    params = {
        "p_assignment_id": assignment_id,
        "p_success": flag(success),
        "p_latency_ms": latency_ms,
    }
    rows = write(db, lambda c: db.call(c, "SP_UPDATE_ASSIGNMENT_METRICS", params), conn)
    return _counters(rows[0])


def _run(db, conn, run_id: str) -> dict | None:
    rows = db.query(conn, "get-assignment-run", {"run_id": run_id})
    if not rows:
        return None
    members = db.query(conn, "list-run-assignments", {"run_id": run_id})
    unassigned = db.query(conn, "list-run-unassigned", {"run_id": run_id})
    return {
        **_run_summary(rows[0], unassigned),
        "assignments": [
            {
                "assignment_id": m["assignment_id"],
                "agent_id": m["agent_id"],
                "model_id": m["model_id"],
                "score": as_float(m["score"]),
                "status": m["status"],
            }
            for m in members
        ],
    }


def _run_summary(run: dict, unassigned: list[dict]) -> dict:
    """A run row (get-assignment-run, list-assignment-runs) with its ASSIGNMENT_RUN_UNASSIGNED
    rows, without its assignments. A run made before migration 0012 has no such rows and its
    list in the legacy JSON column UNASSIGNED instead."""
    listed = [{"agent_id": u["agent_id"], "reason": u["reason"]} for u in unassigned]
    return {
        "run_id": run["run_id"],
        "method": run["method"],
        "status": run["status"],
        "dry_run": run["status"] == "dry_run",
        "unassigned": listed or from_json(run["unassigned"], []),
        "total_score": as_float(run["total_score"]),
        "greedy_total_score": as_float(run["greedy_total_score"]),
        "improvement_pct": as_float(run["improvement_pct"]),
        "created_at": api_time(run["created_at"]),
        "activated_at": api_time(run["activated_at"]),
    }


def _counters(row: dict) -> dict:
    requests = int(row["total_requests"])
    return {
        "assignment_id": row["assignment_id"],
        "total_requests": requests,
        "success_count": int(row["success_count"]),
        "failure_count": int(row["failure_count"]),
        "success_rate": int(row["success_count"]) / requests if requests else None,
        "total_latency_ms": as_float(row["total_latency_ms"]),
        "avg_latency_ms": as_float(row["avg_latency_ms"]),
        "last_used_at": api_time(row["last_used_at"]),
    }


def _active(row: dict) -> dict:
    return {
        "agent_id": row["agent_id"],
        "model_id": row["model_id"],
        "run_id": row["run_id"],
        "score": as_float(row["score"]),
        "method": row["method"],
        "assigned_at": api_time(row["assigned_at"]),
        "activated_at": api_time(row["activated_at"]),
        **_counters(row),
    }
