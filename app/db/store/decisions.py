"""Routing decisions and their outcomes: the raw facts, written in batches.

`decision_row` and `outcome_row` turn API-shaped dicts into the rows the insert queries bind, so
callers that batch rows themselves (the group-commit writer) never need to know column formats.
"""

from __future__ import annotations

import uuid

from app.db import errors
from app.db.store._common import (
    api_time,
    as_bool,
    as_float,
    db_time,
    flag,
    from_json,
    now,
    reading,
    to_json,
)


def decision_row(decision: dict) -> dict:
    """A decision (Decision.to_dict() shape) as bound by insert-decision; idempotent."""
    return {
        "decision_id": decision["decision_id"],
        "decided_at": db_time(decision["decided_at"]),
        "agent_id": decision["agent_id"],
        "task_type": decision.get("task_type"),
        "model_id": decision["model_id"],
        "assignment_id": decision.get("assignment_id"),
        "strategy": decision.get("strategy"),
        "score": decision.get("score"),
        "cache_hit": flag(decision.get("cache_hit", False)),
        "fallbacks": _fallbacks(decision.get("fallbacks")),
        "reason": decision.get("reason"),
    }


def _fallbacks(value) -> str:
    """JSON text of the fallback list (already JSON text: kept, so decision_row is idempotent)."""
    return value if isinstance(value, str) else to_json(value or [])


# What a caller reports of a model call, in the order the API documents it: the one list the
# API's OutcomeIn (a test checks), the engine and the rows below follow.
OUTCOME_FIELDS = ("success", "latency_ms", "tokens_in", "tokens_out", "error_code")


def outcome_row(outcome: dict, batch_id: str) -> dict:
    """An outcome {"decision_id", "success", "latency_ms", "tokens_in"?, "tokens_out"?,
    "error_code"?, "recorded_at"?} as bound by insert-outcome."""
    return {
        "decision_id": outcome["decision_id"],
        "recorded_at": db_time(outcome.get("recorded_at")) or now(),
        **{name: outcome.get(name) for name in OUTCOME_FIELDS},
        "success": flag(outcome["success"]),
        "batch_id": batch_id,
    }


def save_routing_decisions(db, decisions: list[dict], conn=None) -> int:
    """Insert decisions in one batch; a repeated decision id raises errors.UniqueViolation."""
    rows = [decision_row(d) for d in decisions]
    if conn is not None:
        return db.executemany(conn, "insert-decision", rows)
    return db.run_in_transaction(lambda c: db.executemany(c, "insert-decision", rows))


def save_routing_decision(db, decision: dict, conn=None) -> None:
    save_routing_decisions(db, [decision], conn)


def save_metrics_batch(db, outcomes: list[dict], batch_id: str | None = None, conn=None) -> dict:
    """Insert a batch of outcomes and fold it into counters and rollups (SP_APPLY_OUTCOMES), in
    one transaction.

    Returns {"batch_id", "applied": n, "missing": [decision ids with no decision row]}.
    Raises errors.UniqueViolation when a decision already has an outcome (the key refuses it;
    nothing of the batch is kept) and errors.ProcedureError 10007 for a reused batch id.
    """
    batch_id = batch_id or str(uuid.uuid4())
    rows = [outcome_row(o, batch_id) for o in outcomes]

    def work(c):
        db.executemany(c, "insert-outcome", rows)
        try:
            result = db.call(c, "SP_APPLY_OUTCOMES", {"p_batch_id": batch_id})
        except errors.UniqueViolation as exc:
            # Not a duplicate outcome (that fails the insert above): on HANA two transactions
            # MERGE-inserted the same new rollup key; the retry finds the row and updates it.
            raise _RollupRace(str(exc)) from exc
        applied = int(result[0]["outcomes"]) if result else 0
        missing = []
        if applied < len(rows):
            stored = {
                r["decision_id"]
                for r in db.query(c, "list-batch-outcome-ids", {"batch_id": batch_id})
            }
            missing = [r["decision_id"] for r in rows if r["decision_id"] not in stored]
        return {"batch_id": batch_id, "applied": applied, "missing": missing}

    return work(conn) if conn is not None else db.run_in_transaction(work)


class _RollupRace(errors.TransientError):
    """A rollup row was created concurrently: transient, Database.run_in_transaction retries."""


def get_decision(db, decision_id: str) -> dict | None:
    """One decision with its outcome ("outcome": None until one is recorded)."""
    with reading(db) as conn:
        rows = db.query(conn, "get-decision", {"decision_id": decision_id})
    return _decision(rows[0]) if rows else None


def list_decisions(
    db, filters: dict | None = None, before: str | None = None, limit: int = 50
) -> list[dict]:
    """Newest first, up to `limit`, with ids before `before` (the previous page's last id).

    filters: agent_id, model_id, strategy, since, until (UTC; since inclusive, until
    exclusive), all applied in the database. With `since` only the window's rows are read;
    without it the newest decisions are read until the page is full (there is no agent, model
    or strategy index), so filter rare values with a `since`.
    """
    filters = filters or {}
    params = {
        "before": before or "g",
        "limit": int(limit),
        "agent_id": filters.get("agent_id"),
        "model_id": filters.get("model_id"),
        "strategy": filters.get("strategy") or None,
        "until": db_time(filters.get("until")),
    }
    name = "list-decisions"
    if filters.get("since") is not None:
        name, params["since"] = "list-decisions-since", db_time(filters["since"])
    with reading(db) as conn:
        return [_decision(row) for row in db.query(conn, name, params)]


def _decision(row: dict) -> dict:
    outcome = None
    if row["recorded_at"] is not None:
        outcome = {
            **{name: row[name] for name in OUTCOME_FIELDS},
            "success": as_bool(row["success"]),
            "latency_ms": as_float(row["latency_ms"]),
            "recorded_at": api_time(row["recorded_at"]),
        }
    return {
        "decision_id": row["decision_id"],
        "model_id": row["model_id"],
        "endpoint": row["endpoint"],
        "fallbacks": from_json(row["fallbacks"], []),
        "strategy": row["strategy"],
        "score": as_float(row["score"]),
        "cache_hit": bool(row["cache_hit"]),
        "reason": row["reason"],
        "agent_id": row["agent_id"],
        "task_type": row["task_type"],
        "assignment_id": row["assignment_id"],
        "decided_at": api_time(row["decided_at"]),
        "outcome": outcome,
    }
