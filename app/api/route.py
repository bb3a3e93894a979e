"""POST /api/v1/route: which model serves this request (router role)."""

from __future__ import annotations

from flask import Blueprint, g

from app.api import metrics
from app.api.context import engine
from app.api.operations import operation
from app.api.schemas import RouteIn, RouteOut

bp = Blueprint("route", __name__)


@bp.post("/api/v1/route")
@operation(
    "router",
    "Route one request",
    body=RouteIn,
    response=RouteOut,
    errors=(404, 429, 503),
    description="Picks a model for the agent's request with the given strategy (default: "
    "the routing.default_strategy setting) and returns fallbacks in order. "
    "404 for an unknown or disabled agent; 429 with Retry-After when the key or the agent "
    "already has its quota of requests in flight (quota.key_share, quota.agent_share: a "
    "share of the catalog's capacity; a request is in flight until its outcome is reported "
    "or it expires after load.inflight_timeout_s); 503 with Retry-After when no model "
    "is available.",
)
def route(body: RouteIn):
    decision = engine().route(
        body.agent_id, body.task_type, body.prompt_tokens, body.strategy, key_id=g.principal.key_id
    )
    metrics.count_decision(decision)
    return decision
