"""Analytics from the database's procedures and views (viewer): routing stats per model over a
window, the 24-hour summary, one model's performance and the busiest agent-model pairs."""

from __future__ import annotations

from flask import Blueprint

from app.api.catalog import ID_PARAM_SCHEMA, require_id
from app.api.context import db
from app.api.operations import operation
from app.api.schemas import (
    HoursQuery,
    ModelPerformanceOut,
    RoutingStatsOut,
    TopPairsOut,
    TopPairsQuery,
)
from app.db import store
from app.problems import NotFound

bp = Blueprint("analytics", __name__)


@bp.get("/api/v1/analytics/routing-stats")
@operation(
    "viewer",
    "Routing statistics per model",
    query=HoursQuery,
    response=RoutingStatsOut,
    description="SP_GET_ROUTING_STATS over the last `hours` whole UTC hours (the current "
    "one included): requests, successes, failures, latency percentiles and "
    "tokens per model with traffic, busiest first.",
)
def routing_stats(query: HoursQuery):
    return store.get_routing_stats(db(), query.hours)


@bp.get("/api/v1/analytics/summary-24h")
@operation(
    "viewer",
    "Routing summary of the last 24 hours",
    response=RoutingStatsOut,
    description="V_ROUTING_ANALYTICS_24H: the same figures per model over 24 hours.",
)
def summary_24h():
    return store.get_routing_analytics_24h(db())


@bp.get("/api/v1/analytics/models/<model_id>/performance")
@operation(
    "viewer",
    "Performance of one model",
    query=HoursQuery,
    response=ModelPerformanceOut,
    path_params={"model_id": ID_PARAM_SCHEMA},
    description="SP_GET_MODEL_PERFORMANCE: the model's figures over `hours` (zero counts "
    "when idle).",
)
def model_performance(model_id: str, query: HoursQuery):
    require_id("model", model_id)
    if store.get_model(db(), model_id) is None:
        raise NotFound(f"no model {model_id!r}")
    return store.get_model_performance(db(), model_id, query.hours)


@bp.get("/api/v1/analytics/top-pairs")
@operation(
    "viewer",
    "Busiest agent-model pairs",
    query=TopPairsQuery,
    response=TopPairsOut,
    description="SP_GET_TOP_AGENT_MODEL_PAIRS: the `limit` pairs with the most requests "
    "of all time, with their figures.",
)
def top_pairs(query: TopPairsQuery):
    return {"limit": query.limit, "items": store.get_top_agent_model_pairs(db(), query.limit)}
