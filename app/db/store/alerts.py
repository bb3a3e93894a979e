"""Load snapshots, alert rules, alerts and the purge of old history."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.db.store._common import api_time, as_float, db_time, now, reading, write

log = logging.getLogger(__name__)

_RULE_FIELDS = (
    "name",
    "metric",
    "comparator",
    "threshold",
    "window_minutes",
    "min_samples",
    "severity",
    "model_id",
    "enabled",
)


def save_load_snapshots(db, snapshots: list[dict], conn=None) -> int:
    """Rows {"model_id", "in_flight", "utilization", "ewma_latency_ms"?, "snapshot_at"?,
    "source"?}; snapshot_at defaults to now, source to ''."""
    at = now()
    rows = [
        {
            "model_id": s["model_id"],
            "snapshot_at": db_time(s.get("snapshot_at")) or at,
            "source": s.get("source") or "",
            "in_flight": s["in_flight"],
            "utilization": s["utilization"],
            "ewma_latency_ms": s.get("ewma_latency_ms"),
        }
        for s in snapshots
    ]
    return write(db, lambda c: db.executemany(c, "insert-load-snapshot", rows), conn)


def evaluate_alerts(db) -> list[dict]:
    """Run SP_EVALUATE_ALERTS: resolve cleared alerts, open new ones; returns the new ones."""
    rows = write(db, lambda c: db.call(c, "SP_EVALUATE_ALERTS"))
    return [_alert(r) for r in rows]


def list_alerts(db, state: str | None = None, limit: int = 100) -> list[dict]:
    """Unresolved alerts (state None: open and acknowledged), or the newest of one state."""
    with reading(db) as conn:
        if state is None:
            rows = db.query(conn, "list-open-alerts")
        else:
            rows = db.query(conn, "list-alerts-by-state", {"state": state, "limit": int(limit)})
    return [_alert(r) for r in rows]


def count_open_alerts(db) -> dict[str, int]:
    """{severity: number of open or acknowledged alerts}."""
    with reading(db) as conn:
        rows = db.query(conn, "count-open-alerts")
    return {r["severity"]: int(r["open_alerts"]) for r in rows}


def get_alert(db, alert_id: int) -> dict | None:
    with reading(db) as conn:
        rows = db.query(conn, "get-alert", {"alert_id": int(alert_id)})
    return _alert(rows[0]) if rows else None


def ack_alert(db, alert_id: int) -> dict | None:
    """Acknowledge an open alert; an acknowledged or resolved one is returned unchanged; None
    when no such alert (the caller checks `state`)."""
    return _transition(db, "ack-alert", alert_id)


def resolve_alert(db, alert_id: int) -> dict | None:
    """Resolve an open or acknowledged alert by hand; None when no such alert."""
    return _transition(db, "resolve-alert", alert_id)


def _transition(db, query: str, alert_id: int) -> dict | None:
    def work(c):
        db.execute(c, query, {"alert_id": int(alert_id)})
        rows = db.query(c, "get-alert", {"alert_id": int(alert_id)})
        return _alert(rows[0]) if rows else None

    return write(db, work)


def get_alert_rules(db) -> list[dict]:
    with reading(db) as conn:
        return [_rule(r) for r in db.query(conn, "list-alert-rules")]


def put_alert_rules(db, rules: list[dict]) -> list[dict]:
    """Replace the rule set: the given rules are created or updated; rules left out are
    disabled, not deleted (their alerts keep referring to them). Returns all rules."""

    def work(c):
        existing = {r["rule_id"] for r in db.query(c, "list-alert-rules")}
        for rule in rules:
            params = _rule_params(rule)
            query = "update-alert-rule" if rule["rule_id"] in existing else "insert-alert-rule"
            db.execute(c, query, params)
        for rule_id in existing - {r["rule_id"] for r in rules}:
            db.execute(c, "disable-alert-rule", {"rule_id": rule_id})
        return [_rule(r) for r in db.query(c, "list-alert-rules")]

    return write(db, work)


def put_alert_rule(db, rule: dict) -> dict:
    """Create or update one rule; returns it."""

    def work(c):
        params = _rule_params(rule)
        if db.execute(c, "update-alert-rule", params) == 0:
            db.execute(c, "insert-alert-rule", params)
        return next(
            _rule(r) for r in db.query(c, "list-alert-rules") if r["rule_id"] == rule["rule_id"]
        )

    return write(db, work)


_PURGED = ("decisions", "outcomes", "load_snapshots", "alerts", "outcome_batches", "minute_rollups")


def purge_history(db, retention_days: int, *, max_rows: int) -> dict:
    """One bounded step of SP_PURGE_HISTORY in its own transaction: at most `max_rows` of the
    oldest decisions older than `retention_days` (with their outcomes), and at most `max_rows`
    rows of each other purged table. Returns the rows deleted (one HISTORY_PURGES row)."""
    row = write(
        db,
        lambda c: db.call(
            c, "SP_PURGE_HISTORY", {"p_retention_days": retention_days, "p_max_rows": max_rows}
        ),
    )[0]
    return {
        "purge_id": int(row["purge_id"]),
        "purged_at": api_time(row["purged_at"]),
        "retention_days": int(row["retention_days"]),
        "cutoff": api_time(row["cutoff"]),
        **{k: int(row[k]) for k in _PURGED},
    }


def purge_history_in_steps(
    db,
    retention_days: int,
    max_rows: int,
    pause_s: float,
    deadline_s: float,
    *,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Purge history in bounded steps, each its own short transaction, pausing `pause_s` between
    steps so the writer gets the write lock in between (SQLite holds one lock per step, not one
    for the whole purge). Ends when a step deletes fewer than `max_rows` of every table
    (`complete`), when `deadline_s` has passed or when `stop` is set (the next run continues
    where this one stopped). At least one step runs. Returns the summed counts, `steps` and
    `complete`."""
    stop = stop or threading.Event()
    deadline = clock() + deadline_s
    total = dict.fromkeys(_PURGED, 0)
    steps = 0
    while True:
        result = purge_history(db, retention_days, max_rows=max_rows)
        steps += 1
        for key in _PURGED:
            total[key] += result[key]
        complete = all(result[key] < max_rows for key in _PURGED)
        if complete or clock() >= deadline or stop.wait(pause_s):
            break
    if not complete:
        log.info("history purge paused after %d steps; the next run continues", steps)
    return {**total, "steps": steps, "complete": complete}


def _rule_params(rule: dict) -> dict:
    params = {field: rule.get(field) for field in _RULE_FIELDS}
    params["rule_id"] = rule["rule_id"]
    params["name"] = params["name"] or rule["rule_id"]
    params["min_samples"] = params["min_samples"] or 1
    params["enabled"] = 1 if params["enabled"] is None else int(bool(params["enabled"]))
    return params


def _rule(row: dict) -> dict:
    return {
        "rule_id": row["rule_id"],
        "name": row["name"],
        "metric": row["metric"],
        "comparator": row["comparator"],
        "threshold": as_float(row["threshold"]),
        "window_minutes": int(row["window_minutes"]),
        "min_samples": int(row["min_samples"]),
        "severity": row["severity"],
        "model_id": row["model_id"],
        "enabled": bool(row["enabled"]),
        "created_at": api_time(row["created_at"]),
        "updated_at": api_time(row["updated_at"]),
        "last_evaluated_at": api_time(row["last_evaluated_at"]),
    }


def _alert(row: dict) -> dict:
    return {
        "id": int(row["alert_id"]),
        "rule_id": row["rule_id"],
        "rule_name": row.get("rule_name"),
        "model_id": row["model_id"],
        "metric": row["metric"],
        "severity": row["severity"],
        "threshold": as_float(row["threshold"]),
        "observed_value": as_float(row["observed_value"]),
        "state": row["state"],
        "raised_at": api_time(row["raised_at"]),
        "acked_at": api_time(row.get("acked_at")),
        "resolved_at": api_time(row.get("resolved_at")),
    }
