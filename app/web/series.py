"""Pure shaping of rows into chart series: fixed time axes with gaps, matrices, percentages.

No database and no Flask here: rows in, JSON-ready dicts out, so each rule is tested on its own.
Times are ISO 8601 UTC strings as the store returns them.
"""

from __future__ import annotations

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
