"""Analytics: per-model and per-pair statistics read from the rollups (procedures and views).

Windows of `hours` are the last N whole UTC hours including the current one; percentiles come
from log-spaced latency histograms, nearest rank, within 2 % of the exact value
(docs/ANALYTICS.md). Rates and latencies are None where there is no traffic.
"""

from __future__ import annotations

from app.db.store._common import api_time, as_float, db_time, reading

_STAT_FIELDS = (
    "requests",
    "successes",
    "failures",
    "success_rate",
    "avg_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "tokens_in",
    "tokens_out",
)
_COUNTS = frozenset({"requests", "successes", "failures", "tokens_in", "tokens_out"})


def _stats(row: dict, *keys: str) -> dict:
    """The stats body of DESIGN §5 for one row, plus the identifying `keys`."""
    out = {key: row[key] for key in keys}
    for field in _STAT_FIELDS:
        value = row[field]
        out[field] = int(value or 0) if field in _COUNTS else as_float(value)
    return out


def get_routing_stats(db, hours: int = 24) -> dict:
    """{"hours", "items": [per model with traffic, most requests first]} (SP_GET_ROUTING_STATS).

    Raises errors.ProcedureError 10001 unless 1 <= hours <= 8760.
    """
    with reading(db) as conn:
        rows = db.call(conn, "SP_GET_ROUTING_STATS", {"p_hours": hours})
    return {"hours": hours, "items": [_stats(r, "model_id") for r in rows]}


def get_model_performance(db, model_id: str, hours: int = 24) -> dict:
    """One model's stats over `hours` (zero counts when idle); errors 10001, 10004 (unknown)."""
    with reading(db) as conn:
        rows = db.call(conn, "SP_GET_MODEL_PERFORMANCE", {"p_model_id": model_id, "p_hours": hours})
    return {"hours": hours, **_stats(rows[0], "model_id")}


def get_top_agent_model_pairs(db, limit: int = 10) -> list[dict]:
    """The `limit` busiest (agent, model) pairs of all time, with their stats (1..1000)."""
    with reading(db) as conn:
        rows = db.call(conn, "SP_GET_TOP_AGENT_MODEL_PAIRS", {"p_limit": limit})
    return [
        {
            "rank": int(r["pair_rank"]),
            **_stats(r, "agent_id", "model_id"),
            "last_hour": api_time(r["last_hour"]),
        }
        for r in rows
    ]


def get_routing_analytics_24h(db) -> dict:
    """Per model over the last 24 whole hours (V_ROUTING_ANALYTICS_24H)."""
    with reading(db) as conn:
        rows = db.query(conn, "get-routing-analytics-24h")
    return {"hours": 24, "items": [_stats(r, "model_id") for r in rows]}


def get_model_health(db) -> dict[str, dict]:
    """{model_id: {status, window_minutes, requests, successes, failures, success_rate,
    avg_latency_ms, p95_latency_ms}} for the decisions since the start of the minute 15 minutes
    ago (V_MODEL_HEALTH, read from the per-minute rollup: p95 within 2 %, the rest exact)."""
    with reading(db) as conn:
        rows = db.query(conn, "get-model-health")
    return {
        r["model_id"]: {
            "status": r["status"],
            "window_minutes": int(r["window_minutes"]),
            "requests": int(r["requests"]),
            "successes": int(r["successes"]),
            "failures": int(r["failures"]),
            "success_rate": as_float(r["success_rate"]),
            "avg_latency_ms": as_float(r["avg_latency_ms"]),
            "p95_latency_ms": as_float(r["p95_latency_ms"]),
        }
        for r in rows
    }


def list_model_performance(db) -> list[dict]:
    """Every catalog model with its last-7-days stats (V_MODEL_PERFORMANCE)."""
    with reading(db) as conn:
        rows = db.query(conn, "list-model-performance")
    return [
        {
            **_stats(r, "model_id", "display_name", "provider", "status"),
            "cost_per_1k_tokens": as_float(r["cost_per_1k_tokens"]),
            "first_hour": api_time(r["first_hour"]),
            "last_hour": api_time(r["last_hour"]),
        }
        for r in rows
    ]


def list_hourly_model_metrics(db, since, until, model_id: str | None = None) -> list[dict]:
    """Hourly stats per model for hour starts in [since, until) (V_HOURLY_MODEL_METRICS)."""
    params = {"since": db_time(since), "until": db_time(until), "model_id": model_id}
    with reading(db) as conn:
        rows = db.query(conn, "list-hourly-model-metrics", params)
    return [{"hour_start": api_time(r["hour_start"]), **_stats(r, "model_id")} for r in rows]


def list_minute_metrics(db) -> list[dict]:
    """Per minute with decisions in the last 60 whole minutes (the current one included), oldest
    first (V_ROUTING_MINUTELY_1H): {"minute_start", "decisions", "cache_hits", "outcomes",
    "successes", "p50_latency_ms", "p95_latency_ms", "p99_latency_ms"}. Outcomes count in the
    minute of their decision; counts exact (outcomes from the per-minute rollup), percentiles
    from its histogram (within 2 %), None without outcomes."""
    with reading(db) as conn:
        rows = db.query(conn, "list-minute-metrics")
    return [
        {
            "minute_start": api_time(r["minute_start"]),
            **{k: int(r[k] or 0) for k in ("decisions", "cache_hits", "outcomes", "successes")},
            **{k: as_float(r[k]) for k in ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms")},
        }
        for r in rows
    ]
