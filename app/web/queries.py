"""The dashboard's reads: views and procedures through app.db.store, shaped for pages and charts.

Every stored figure comes from the views (V_*) and procedures through store functions; live
process figures (pool, writer, spool, in-flight load, cooldowns, score matrix) come from the
engine. No SQL here. Each function returns one JSON-ready dict that the page renders and its
/dashboard/api/ endpoint serves, so a page and its refresh never disagree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.db import store
from app.routing.strategies import STRATEGIES
from app.web import series
from app.web.formatting import metric_text

log = logging.getLogger(__name__)

STRATEGY_CHOICES = tuple(sorted(STRATEGIES))
SEARCH_MAX = 200
DECISIONS_PAGE = 50
OVERVIEW_MINUTES = 60  # the window of V_ROUTING_MINUTELY_1H
OVERVIEW_MIN_MINUTES = 15  # the time axis starts at the first busy minute, showing at least 15
MODEL_HOURS = 24
MODEL_MIN_HOURS = 6  # the latency axis starts at the first hour with traffic, showing at least 6
ASSIGNMENT_RUNS_CHART = 10  # auto-assign runs in the "Auto-assign runs" chart
_DECISION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ALERT_ID = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True)
class DecisionSearch:
    """The decisions page's filters, validated from the query string (bad values are dropped)."""

    agent: str | None = None
    model: str | None = None
    strategy: str | None = None
    before: str | None = None  # cursor: decisions older than this decision id
    limit: int = DECISIONS_PAGE

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DecisionSearch:
        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:SEARCH_MAX] or None

        strategy, before = text("strategy"), text("before")
        return cls(
            agent=text("agent"),
            model=text("model"),
            strategy=strategy if strategy in STRATEGY_CHOICES else None,
            before=before if before and _DECISION_ID.match(before) else None,
        )

    @property
    def active(self) -> bool:
        return any((self.agent, self.model, self.strategy, self.before))


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# -- overview --------------------------------------------------------------------------------------


def overview(services) -> dict:
    """The last hour per minute (V_ROUTING_MINUTELY_1H), pool and writer figures, open alerts.

    Every figure is computed by the view; here minutes are only placed on a fixed axis, and the
    tiles add up the view's per-minute counts and divide those sums.
    """
    rows = store.list_minute_metrics(services.db)
    # The axis is taken after the read: should the minute turn in between, the view's oldest
    # minute falls off the axis, instead of a minute the view did not cover showing a false gap.
    now = _now()
    minutes = series.axis(now, timedelta(minutes=1), OVERVIEW_MINUTES)
    by_minute = {series.parse_time(row["minute_start"]): row for row in rows}
    slots = [by_minute.get(minute) for minute in minutes]
    per_minute = _minute_series(slots, minutes)
    open_alerts = [a for a in store.list_alerts(services.db) if a["state"] == "open"]
    return {
        "generated_at": _stamp(now),
        "window": {"label": f"last {OVERVIEW_MINUTES} minutes", "minutes": OVERVIEW_MINUTES},
        "series": series.trim_quiet_start(per_minute, OVERVIEW_MIN_MINUTES),
        "totals": _window_totals(slots),
        "db": db_panel(services.engine.db_figures()),
        "alerts": {"open_count": len(open_alerts), "items": [_alert(a) for a in open_alerts[:10]]},
    }


def _minute_series(slots: list[dict | None], minutes: list[datetime]) -> dict:
    """The view's minutes on the axis (None: no decisions in that minute), as chart series: 0
    requests and None rates where there was no traffic, so the chart shows a gap, not a zero."""

    def column(key: str, empty):
        return [row[key] if row else empty for row in slots]

    return {
        "labels": [minute.isoformat() for minute in minutes],
        "requests_per_min": column("decisions", 0),
        "success_rate": [series.ratio(r["successes"], r["outcomes"]) if r else None for r in slots],
        "p50_ms": column("p50_latency_ms", None),
        "p95_ms": column("p95_latency_ms", None),
        "p99_ms": column("p99_latency_ms", None),
        "cache_hit_rate": [
            series.ratio(r["cache_hits"], r["decisions"]) if r else None for r in slots
        ],
        "outcomes": column("outcomes", 0),
    }


def _window_totals(slots: list[dict | None]) -> dict:
    """The overview tiles: the window's counts (sums of the view's exact per-minute counts) and
    their ratios, the current minute's decisions and the newest minute's p95."""
    busy = [row for row in slots if row]

    def total(key: str) -> int:
        return sum(row[key] for row in busy)

    p95 = [row["p95_latency_ms"] for row in busy if row["p95_latency_ms"] is not None]
    return {
        "requests": total("decisions"),
        "current_minute": slots[-1]["decisions"] if slots and slots[-1] else 0,
        "success_rate": series.ratio(total("successes"), total("outcomes")),
        "cache_hit_rate": series.ratio(total("cache_hits"), total("decisions")),
        "p95_ms": p95[-1] if p95 else None,
    }


def db_panel(figures: Mapping) -> dict:
    """Pool, writer and spool figures for the overview, whatever optional keys are missing."""
    pool = figures.get("pool") or {}
    writer = figures.get("writer") or {}
    size, max_size = pool.get("size"), pool.get("max_size")
    waiting = pool.get("waiting") or 0
    if not size and (pool.get("min_size") or 0) > 0:
        state = "down"
    elif waiting:
        state = "degraded"
    else:
        state = "healthy"
    spool = figures.get("spool_depth", writer.get("spool_depth"))
    return {
        "backend": figures.get("backend") or pool.get("backend") or "",
        "pool": {
            "state": state,
            "in_use": pool.get("active"),
            "open": size,
            "max": max_size,
            "waiting": waiting,
        },
        "writer": {"queued": writer.get("queue_depth_rows"), "mode": writer.get("mode")},
        "spool_depth": spool,
    }


# -- models ----------------------------------------------------------------------------------------


def models(services) -> dict:
    now = _now()
    hours = series.axis(now, timedelta(hours=1), MODEL_HOURS)
    hourly = store.list_hourly_model_metrics(services.db, hours[0], now + timedelta(hours=1))
    hours = series.trim_leading_hours(hours, hourly, MODEL_MIN_HOURS)
    day = {row["model_id"]: row for row in store.get_routing_analytics_24h(services.db)["items"]}
    health = store.get_model_health(services.db)
    load = {item["model_id"]: item for item in services.engine.load()}
    cooling = {c["model_id"]: c for c in services.engine.cooldowns()}
    total = sum(row["requests"] for row in day.values())
    rows = []
    for model_id in sorted(set(health) | set(day) | set(load)):
        stats, live = day.get(model_id, {}), load.get(model_id, {})
        cooldown = cooling.get(model_id) or {}
        rows.append(
            {
                "model_id": model_id,
                "status": (health.get(model_id) or {}).get("status"),
                "cooldown_state": cooldown.get("state") or live.get("breaker") or "closed",
                "requests": stats.get("requests", 0),
                "share": series.ratio(stats.get("requests", 0), total),
                "success_rate": stats.get("success_rate"),
                "p50_ms": stats.get("p50_latency_ms"),
                "p95_ms": stats.get("p95_latency_ms"),
                "p99_ms": stats.get("p99_latency_ms"),
                "in_flight": live.get("in_flight"),
                "utilization": live.get("utilization"),
            }
        )
    return {
        "generated_at": _stamp(now),
        "window": {"label": f"last {MODEL_HOURS} hours"},
        "latency": series.hourly_by_model(hourly, hours),
        "models": rows,
        "cooldowns": sorted(cooling.values(), key=lambda c: c["model_id"]),
    }


# -- assignments -----------------------------------------------------------------------------------


def assignments(services) -> dict:
    active = store.get_active_assignments(services.db)
    latest = store.list_assignment_runs(services.db, 1)
    scored = store.list_assignment_runs(services.db, ASSIGNMENT_RUNS_CHART, scored_only=True)
    active_rows = [
        {
            "agent_id": a["agent_id"],
            "model_id": a["model_id"],
            "method": a["method"],
            "score": a["score"],
            "requests": a["total_requests"],
            "success_rate": a["success_rate"],
            "avg_latency_ms": a["avg_latency_ms"],
            "assigned_at": a["assigned_at"],
        }
        for a in active
    ]
    return {
        "generated_at": _stamp(_now()),
        "matrix": series.matrix(services.engine.scores(), active),
        "active": active_rows,
        "last_run": _run(latest[0]) if latest else None,
        "runs": [_run(run) for run in reversed(scored)],  # oldest first: the chart's time order
    }


def _run(run: dict) -> dict:
    return {
        key: run.get(key)
        for key in (
            "run_id",
            "method",
            "status",
            "total_score",
            "greedy_total_score",
            "improvement_pct",
            "created_at",
            "activated_at",
            "unassigned",
        )
    }


# -- decisions -------------------------------------------------------------------------------------


def decisions(services, search: DecisionSearch) -> dict:
    """One page of decisions, newest first, every filter applied in the database;
    `next_cursor` (the page's last id) is set when the page is full."""
    filters = {"agent_id": search.agent, "model_id": search.model, "strategy": search.strategy}
    items = store.list_decisions(services.db, filters, before=search.before, limit=search.limit)
    more = len(items) == search.limit
    return {"items": items, "next_cursor": items[-1]["decision_id"] if more else None}


# -- alerts ----------------------------------------------------------------------------------------


def alerts(services) -> dict:
    unresolved = [_alert(a) for a in store.list_alerts(services.db)]
    open_ = [a for a in unresolved if a["state"] == "open"]
    acknowledged = [a for a in unresolved if a["state"] == "acknowledged"]
    return {
        "generated_at": _stamp(_now()),
        "open": open_,
        "acknowledged": acknowledged,
        "counts": {"open": len(open_), "acknowledged": len(acknowledged)},
    }


def acknowledge_alert(services, alert_id: str, key_id: str | None) -> bool:
    """Open -> acknowledged; False when there is no such open alert (nothing changes)."""
    if not _ALERT_ID.match(alert_id):
        return False
    current = store.get_alert(services.db, int(alert_id))
    if current is None or current["state"] != "open":
        return False
    acked = store.ack_alert(services.db, int(alert_id))
    if acked is None or acked["state"] != "acknowledged":
        return False
    log.info("alert %s acknowledged from the dashboard by key %s", alert_id, key_id)
    return True


def _alert(alert: dict) -> dict:
    alert_id = alert["alert_id"] if "alert_id" in alert else alert["id"]
    return {
        **{k: v for k, v in alert.items() if k != "id"},
        "alert_id": alert_id,
        "observed_text": metric_text(alert["metric"], alert.get("observed_value")),
        "threshold_text": metric_text(alert["metric"], alert.get("threshold")),
    }
