"""Pure shaping of rows into chart series: fixed time axes with gaps, matrices, percentages.

No database and no Flask here: rows in, JSON-ready dicts out, so each rule is tested on its own.
Times are ISO 8601 UTC strings as the store returns them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

HEAT_STEPS = 10


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_to(moment: datetime, step: timedelta) -> datetime:
    seconds = step.total_seconds()
    epoch = moment.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def axis(end: datetime, step: timedelta, count: int) -> list[datetime]:
    """`count` bucket starts ending with the bucket holding `end`, oldest first."""
    last = floor_to(end, step)
    return [last - step * (count - 1 - i) for i in range(count)]


def nearest_rank(sorted_values: list[float], pct: float) -> float | None:
    """The nearest-rank percentile (the views' definition): value at rank ceil(pct/100 * n)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def minute_series(decisions: Iterable[dict], minutes: list[datetime]) -> dict:
    """Per-minute requests, success rate, latency percentiles and cache hit rate of decisions.

    Interim source until a per-minute view exists (see docs/DASHBOARD.md): `decisions` are the
    store's decision dicts (decided_at, cache_hit, outcome); minutes without traffic get 0
    requests and None rates, so the chart shows a gap rather than a false zero.
    """
    index = {m: i for i, m in enumerate(minutes)}
    count = [0] * len(minutes)
    hits = [0] * len(minutes)
    successes = [0] * len(minutes)
    latencies: list[list[float]] = [[] for _ in minutes]
    for decision in decisions:
        slot = index.get(floor_to(parse_time(decision["decided_at"]), timedelta(minutes=1)))
        if slot is None:
            continue
        count[slot] += 1
        hits[slot] += 1 if decision.get("cache_hit") else 0
        outcome = decision.get("outcome")
        if outcome is not None:
            successes[slot] += 1 if outcome.get("success") else 0
            latencies[slot].append(float(outcome["latency_ms"]))
    for values in latencies:
        values.sort()
    return {
        "labels": [m.isoformat() for m in minutes],
        "requests_per_min": count,
        "success_rate": [ratio(s, len(v)) for s, v in zip(successes, latencies, strict=True)],
        "p50_ms": [nearest_rank(v, 50) for v in latencies],
        "p95_ms": [nearest_rank(v, 95) for v in latencies],
        "p99_ms": [nearest_rank(v, 99) for v in latencies],
        "cache_hit_rate": [ratio(h, n) for h, n in zip(hits, count, strict=True)],
        "outcomes": [len(v) for v in latencies],
    }


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def hourly_by_model(rows: Iterable[dict], hours: list[datetime]) -> dict:
    """{labels, series: {model_id: {p50_ms, p95_ms, p99_ms: [per hour or None]}}} from
    V_HOURLY_MODEL_METRICS rows (hour_start, model_id, p50/p95/p99_latency_ms)."""
    index = {h: i for i, h in enumerate(hours)}
    series: dict[str, dict[str, list]] = {}
    for row in rows:
        slot = index.get(floor_to(parse_time(row["hour_start"]), timedelta(hours=1)))
        if slot is None:
            continue
        model = series.setdefault(
            row["model_id"], {key: [None] * len(hours) for key in ("p50_ms", "p95_ms", "p99_ms")}
        )
        for pct in ("p50", "p95", "p99"):
            model[f"{pct}_ms"][slot] = row[f"{pct}_latency_ms"]
    return {"labels": [h.isoformat() for h in hours], "series": dict(sorted(series.items()))}


def trim_leading_hours(hours: list[datetime], rows: list[dict], keep: int) -> list[datetime]:
    """Drop the hours before the first one with traffic, keeping at least the last `keep`."""
    with_data = [parse_time(r["hour_start"]) for r in rows]
    first = min(with_data, default=hours[-1])
    start = min(max(0, len(hours) - keep), next((i for i, h in enumerate(hours) if h >= first), 0))
    return hours[start:]


def trim_quiet_start(per_minute: dict, keep: int) -> dict:
    """Drop the leading minutes without traffic (keeping at least the last `keep`), so a fresh
    system's first minutes fill the chart instead of a sliver at its right edge."""
    counts = per_minute["requests_per_min"]
    first = next((i for i, n in enumerate(counts) if n), len(counts))
    start = min(first, max(0, len(counts) - keep))
    return {key: values[start:] for key, values in per_minute.items()}


def totals(series: dict) -> dict:
    """The overview tiles: the last minute's request rate, window-wide rates and p95."""
    requests = sum(series["requests_per_min"])
    outcomes = sum(series["outcomes"])
    weighted_success = sum(
        (rate or 0.0) * n
        for rate, n in zip(series["success_rate"], series["outcomes"], strict=True)
    )
    hits = sum(
        (rate or 0.0) * n
        for rate, n in zip(series["cache_hit_rate"], series["requests_per_min"], strict=True)
    )
    recent_p95 = [v for v in series["p95_ms"] if v is not None]
    return {
        "requests": requests,
        "current_minute": series["requests_per_min"][-1] if series["requests_per_min"] else 0,
        "success_rate": ratio(weighted_success, outcomes),
        "cache_hit_rate": ratio(hits, requests),
        "p95_ms": recent_p95[-1] if recent_p95 else None,
    }


def heat(score: float | None) -> int:
    """Score 0..1 -> CSS class step heat-0..heat-10 (CSP forbids inline colours)."""
    if score is None:
        return 0
    return max(0, min(HEAT_STEPS, round(score * HEAT_STEPS)))


def matrix(scores: dict, active: Iterable[dict]) -> dict:
    """The agent x model table from the engine's score matrix, marking active assignments."""
    assigned = {(a["agent_id"], a["model_id"]) for a in active}
    rows = []
    for i, agent_id in enumerate(scores.get("agents", [])):
        cells = []
        for j, model_id in enumerate(scores.get("models", [])):
            score = scores["scores"][i][j]
            feasible = bool(scores["feasible"][i][j]) and score is not None
            cells.append(
                {
                    "model_id": model_id,
                    "score": score,
                    "feasible": feasible,
                    "heat": heat(score) if feasible else 0,
                    "assigned": (agent_id, model_id) in assigned,
                }
            )
        rows.append({"agent_id": agent_id, "cells": cells})
    return {
        "agents": list(scores.get("agents", [])),
        "models": list(scores.get("models", [])),
        "rows": rows,
    }
