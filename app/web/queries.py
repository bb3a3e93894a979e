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
SEARCH_SCAN_PAGES = 20  # strategy is filtered here: read at most this many pages per search
OVERVIEW_MINUTES = 60
OVERVIEW_MAX_DECISIONS = 5000
OVERVIEW_MIN_MINUTES = 15  # the time axis starts at the first busy minute, showing at least 15
MODEL_HOURS = 24
MODEL_MIN_HOURS = 6  # the latency axis starts at the first hour with traffic, showing at least 6
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
    now = _now()
    minutes = series.axis(now, timedelta(minutes=1), OVERVIEW_MINUTES)
    recent = store.list_decisions(services.db, {"since": minutes[0]}, limit=OVERVIEW_MAX_DECISIONS)
    per_minute = series.minute_series(recent, minutes)
    open_alerts = [a for a in store.list_alerts(services.db) if a["state"] == "open"]
    label = f"last {OVERVIEW_MINUTES} minutes"
    if len(recent) >= OVERVIEW_MAX_DECISIONS:
        label += f" (latest {OVERVIEW_MAX_DECISIONS:,} decisions)"
    return {
        "generated_at": _stamp(now),
        "window": {"label": label, "minutes": OVERVIEW_MINUTES},
        "series": series.trim_quiet_start(per_minute, OVERVIEW_MIN_MINUTES),
        "totals": series.totals(per_minute),
        "db": db_panel(services.engine.db_figures()),
        "alerts": {"open_count": len(open_alerts), "items": [_alert(a) for a in open_alerts[:10]]},
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
    run = store.get_latest_assignment_run(services.db)
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
    last_run = None
    if run is not None:
        last_run = {
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
    return {
        "generated_at": _stamp(_now()),
        "matrix": series.matrix(services.engine.scores(), active),
        "active": active_rows,
        "last_run": last_run,
        "runs": [last_run] if last_run and last_run["total_score"] is not None else [],
    }


# -- decisions -------------------------------------------------------------------------------------


def decisions(services, search: DecisionSearch) -> dict:
    """One page of decisions, newest first; `next_cursor` continues after the last one read.

    Agent and model filter in the database; strategy is filtered here over at most
    SEARCH_SCAN_PAGES pages, and the cursor lets the next page carry on from there.
    """
    filters = {"agent_id": search.agent, "model_id": search.model}
    found: list[dict] = []
    cursor, more = search.before, True
    for _ in range(SEARCH_SCAN_PAGES):
        batch = store.list_decisions(services.db, filters, before=cursor, limit=search.limit)
        more = len(batch) == search.limit
        for decision in batch:
            cursor = decision["decision_id"]
            if search.strategy in (None, decision["strategy"]):
                found.append(decision)
                if len(found) == search.limit:
                    more = more or decision is not batch[-1]
                    return {"items": found, "next_cursor": cursor if more else None}
        if not more:
            break
    return {"items": found, "next_cursor": cursor if more else None}


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
