"""GET /metrics: Prometheus text from a registry of this app (tests build many apps).

Counted per request: requests and latency per route (the URL rule, never the raw path, so ids do
not explode the label set) and status. Counted per route decision: decisions per model and
strategy, cache hits and misses. Read at scrape time (a custom collector): database pool and
writer figures, in-flight load, utilisation and cooldowns per model, open alerts per severity.
A section that fails at scrape time is skipped and flagged, so /metrics still answers while the
database is down.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

from app.api.operations import operation

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

PREFIX = "model_router"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]+")


class ApiMetrics:
    """The app's registry and the instruments the request hooks and views update."""

    def __init__(self, app: Flask) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            f"{PREFIX}_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            f"{PREFIX}_http_request_duration_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            f"{PREFIX}_route_decisions",
            "Route decisions by model and strategy",
            ["model_id", "strategy"],
            registry=self.registry,
        )
        self.cache = Counter(
            f"{PREFIX}_route_cache_lookups",
            "Ranking cache lookups of route decisions",
            ["result"],
            registry=self.registry,
        )
        self.registry.register(ScrapeCollector(app, self))


class ScrapeCollector:
    """Figures read from the engine and the database when Prometheus scrapes."""

    def __init__(self, app: Flask, owner: ApiMetrics) -> None:
        self.app = app
        self.owner = owner

    def describe(self):
        return []  # the metric names depend on the figures; nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        errors = GaugeMetricFamily(
            f"{PREFIX}_scrape_error",
            "1 when a section of /metrics could not be read at this scrape",
            labels=["section"],
        )
        for section, produce in (("db", self._db), ("load", self._load), ("alerts", self._alerts)):
            try:
                yield from list(produce())
                errors.add_metric([section], 0)
            except Exception as exc:  # a scrape must answer even when a source is down
                log.warning("metrics: %s figures unavailable: %s", section, type(exc).__name__)
                errors.add_metric([section], 1)
        yield errors
        yield self._hit_ratio()

    def _engine(self):
        return self.app.extensions["router"].engine

    def _db(self):
        for name, value in sorted(_numeric_leaves(self._engine().db_figures())):
            gauge = GaugeMetricFamily(f"{PREFIX}_db_{name}", f"database figure {name}")
            gauge.add_metric([], value)
            yield gauge

    def _load(self):
        engine = self._engine()
        families = {
            "in_flight": GaugeMetricFamily(
                f"{PREFIX}_model_in_flight", "Requests in flight per model", labels=["model_id"]
            ),
            "capacity": GaugeMetricFamily(
                f"{PREFIX}_model_capacity", "Concurrent requests a model takes", labels=["model_id"]
            ),
            "utilization": GaugeMetricFamily(
                f"{PREFIX}_model_utilization", "In flight / capacity", labels=["model_id"]
            ),
            "ewma_latency_ms": GaugeMetricFamily(
                f"{PREFIX}_model_ewma_latency_ms", "EWMA latency per model", labels=["model_id"]
            ),
        }
        for row in engine.load():
            for key, family in families.items():
                value = _number(row.get(key))
                if value is not None:
                    family.add_metric([str(row["model_id"])], value)
        cooling = GaugeMetricFamily(
            f"{PREFIX}_model_cooldown", "1 while a model cools down", labels=["model_id"]
        )
        for row in engine.cooldowns():
            cooling.add_metric([str(row["model_id"])], 1)
        yield from families.values()
        yield cooling

    def _alerts(self):
        from app.db import store

        gauge = GaugeMetricFamily(
            f"{PREFIX}_open_alerts", "Open or acknowledged alerts", labels=["severity"]
        )
        counts = {"info": 0, "warning": 0, "critical": 0}
        for severity, count in store.count_open_alerts(self.app.extensions["router"].db).items():
            counts[str(severity)] = count
        for severity, count in sorted(counts.items()):
            gauge.add_metric([severity], count)
        yield gauge

    def _hit_ratio(self) -> GaugeMetricFamily:
        hits = misses = 0.0
        for metric in self.owner.cache.collect():
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    if sample.labels.get("result") == "hit":
                        hits = sample.value
                    else:
                        misses += sample.value
        gauge = GaugeMetricFamily(
            f"{PREFIX}_route_cache_hit_ratio",
            "Share of route decisions served from the ranking cache "
            "since start (NaN before the first)",
        )
        gauge.add_metric([], hits / (hits + misses) if hits + misses else float("nan"))
        return gauge


def _numeric_leaves(figures: Mapping, prefix: str = "") -> Iterator[tuple[str, float]]:
    for key, value in figures.items():
        name = _NAME_CHARS.sub("_", f"{prefix}{key}").strip("_").lower()
        if isinstance(value, Mapping):
            yield from _numeric_leaves(value, name + "_")
        else:
            number = _number(value)
            if number is not None:
                yield name, number


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


# -- hooks and view -------------------------------------------------------------------------------


def _metrics() -> ApiMetrics:
    return current_app.extensions["api_metrics"]


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    m = _metrics()
    m.requests.labels(request.method, rule, str(response.status_code)).inc()
    if started is not None:
        m.latency.labels(request.method, rule).observe(time.perf_counter() - started)
    return response


def count_decision(decision: Mapping) -> None:
    """Called by the route view for every decision it returns."""
    m = _metrics()
    m.decisions.labels(str(decision.get("model_id")), str(decision.get("strategy"))).inc()
    m.cache.labels("hit" if decision.get("cache_hit") else "miss").inc()


def install(app: Flask) -> None:
    """Create the app's registry; register the timer first so it wraps every other hook."""
    app.extensions["api_metrics"] = ApiMetrics(app)
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)


@bp.get("/metrics")
@operation(
    "viewer",
    "Prometheus metrics",
    response="text/plain",
    description="Prometheus text exposition format; needs a viewer (or admin) key: "
    "scrape with `authorization: {credentials: <key>}`.",
)
def metrics_text():
    # Text format 0.0.4 unless the scraper asks for OpenMetrics in Accept.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(_metrics().registry), content_type=content_type)
