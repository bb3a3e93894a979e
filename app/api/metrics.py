"""GET /metrics: Prometheus text from a registry of this app (tests build many apps).

Counted per request: requests and latency per route (the URL rule, never the raw path, so ids do
not explode the label set), method and status. Counted per route decision: decisions per model
and strategy. Read at scrape time (a custom collector) from the engine: pool, writer and ranking
cache figures (`model_router_pool_*`, `model_router_writer_*`, `model_router_cache_*`, the cache
hit rate among them), in-flight load, capacity, utilisation and cooldowns per model; and open
alerts per severity from the database. A section that fails at scrape time is skipped and
flagged (`model_router_scrape_error`), so /metrics still answers while the database is down.
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
from app.db import store

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

PREFIX = "model_router"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SEVERITIES = ("critical", "info", "warning")
_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_]+")
# engine.load() field -> (metric name, help)
_LOAD = {
    "in_flight": ("model_in_flight", "Requests in flight per model"),
    "capacity": ("model_capacity", "Requests a model takes at once"),
    "utilization": ("model_utilization", "In flight / capacity per model"),
    "ewma_latency_ms": ("model_ewma_latency_ms", "EWMA latency per model"),
}


class ApiMetrics:
    """The app's registry and the instruments the request hooks and the route view update."""

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
            "HTTP request latency by route and status",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.decisions = Counter(
            f"{PREFIX}_route_decisions",
            "Route decisions by model and strategy",
            ["model_id", "strategy"],
            registry=self.registry,
        )
        self.registry.register(ScrapeCollector(app))
        self._children: dict[tuple[str, str, str], tuple] = {}
        self._decision_children: dict[tuple[str, str], object] = {}

    def children(self, method: str, route: str, status: str) -> tuple:
        """The (counter, histogram) of one label set, looked up once (labels() is costly)."""
        key = (method, route, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.requests.labels(method, route, status),
                self.latency.labels(method, route, status),
            )
        return found

    def count_decision(self, decision: Mapping) -> None:
        """One more decision for its model and strategy (children cached, as in `children`)."""
        key = (str(decision["model_id"]), str(decision["strategy"]))
        child = self._decision_children.get(key)
        if child is None:
            child = self._decision_children[key] = self.decisions.labels(*key)
        child.inc()


class ScrapeCollector:
    """Figures read from the engine and the database when Prometheus scrapes."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self):
        return []  # the names follow the engine's figures; nothing to check at registration

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

    @property
    def _services(self):
        return self.app.extensions["services"]

    def _db(self):
        for section, figures in self._services.engine.db_figures().items():
            for name, value in figures.items():
                family = _figure(f"{PREFIX}_{_name(section)}_{_name(name)}", value)
                if family is not None:
                    yield family

    def _load(self):
        engine = self._services.engine
        families = {
            field: GaugeMetricFamily(f"{PREFIX}_{name}", text, labels=["model_id"])
            for field, (name, text) in _LOAD.items()
        }
        for row in engine.load():
            for field, family in families.items():
                value = _number(row.get(field))
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
        counts = dict.fromkeys(SEVERITIES, 0)
        counts.update(store.count_open_alerts(self._services.db))
        gauge = GaugeMetricFamily(
            f"{PREFIX}_open_alerts", "Open or acknowledged alerts", labels=["severity"]
        )
        for severity, count in sorted(counts.items()):
            gauge.add_metric([str(severity)], count)
        yield gauge


def _name(text) -> str:
    return _NAME_CHARS.sub("_", str(text)).strip("_").lower()


def _figure(name: str, value) -> GaugeMetricFamily | None:
    """One engine figure as a gauge: a number as is; a word as a label (`value="running"` 1);
    a mapping of numbers (a histogram, percentiles) as one gauge labelled by its keys."""
    text = f"engine figure {name.removeprefix(PREFIX + '_')}"
    number = _number(value)
    if number is not None:
        return GaugeMetricFamily(name, text, value=number)
    if isinstance(value, str):
        family = GaugeMetricFamily(name, text, labels=["value"])
        family.add_metric([value], 1)
        return family
    if isinstance(value, Mapping):
        family = GaugeMetricFamily(name, text, labels=["key"])
        for key, item in value.items():
            number = _number(item)
            if number is not None:
                family.add_metric([str(key)], number)
        return family
    return None


def _number(value) -> float | None:
    return float(value) if isinstance(value, bool | int | float) else None


# -- hooks and view -------------------------------------------------------------------------------


def _metrics() -> ApiMetrics:
    return current_app.extensions["api_metrics"]


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
    status = str(response.status_code)
    counter, histogram = _metrics().children(request.method, rule, status)
    counter.inc()
    if started is not None:
        histogram.observe(time.perf_counter() - started)
    return response


def count_decision(decision: Mapping) -> None:
    """Called by the route view for every decision it returns."""
    _metrics().count_decision(decision)


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
    description="Prometheus text format 0.0.4 (OpenMetrics when the Accept header asks for "
    "it); needs a viewer (or admin) key.",
)
def metrics_text():
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return Response(encode(_metrics().registry), content_type=content_type)
