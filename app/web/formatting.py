"""The `fmt` template filter: numbers, rates and times as the dashboard shows them.

app/web/static/js/dashboard.js formats refreshed values with the same rules, so a figure does not
change its look when the script replaces it. Missing values show as an en dash. The result is
plain text; Jinja's autoescape still applies to it.
"""

from __future__ import annotations

from datetime import datetime

MISSING = "–"


def fmt(value, kind: str = "text") -> str:
    if value is None or value == "":
        return MISSING
    try:
        return _FORMATS.get(kind, str)(value)
    except (TypeError, ValueError):
        return str(value)


# How an alert metric's observed value and threshold read (ALERT_RULES.METRIC).
METRIC_FORMATS = {
    "error_rate": "pct",
    "utilization": "pct",
    "p95_latency_ms": "ms",
    "no_traffic": "int",
}


def metric_text(metric: str, value) -> str:
    return fmt(value, METRIC_FORMATS.get(metric, "num2"))


def _int(value) -> str:
    return f"{round(float(value)):,}"


def _pct(value) -> str:
    return f"{float(value) * 100:.1f} %"


def _pctpoints(value) -> str:
    return f"{float(value):+.1f} %"


def _ms(value) -> str:
    ms = float(value)
    return f"{ms / 1000:.2f} s" if ms >= 10000 else f"{ms:,.0f} ms"


def _time(value) -> str:
    return _parse(value).strftime("%H:%M:%S")


def _datetime(value) -> str:
    return _parse(value).strftime("%Y-%m-%d %H:%M:%S")


def _parse(value) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


_FORMATS = {
    "text": str,
    "badge": str,
    "num": str,
    "int": _int,
    "num1": lambda v: f"{float(v):,.1f}",
    "num2": lambda v: f"{float(v):,.2f}",
    "num3": lambda v: f"{float(v):,.3f}",
    "pct": _pct,
    "pctpoints": _pctpoints,
    "ms": _ms,
    "time": _time,
    "datetime": _datetime,
}
