"""Outcomes of routed requests: one (POST /decisions/{id}/outcome) or many (POST /outcomes:batch).

Both need the router role. A second outcome for one decision is a 409, per item in a batch.
"""

from __future__ import annotations

from flask import Blueprint

from app.api.context import engine
from app.api.decisions import DECISION_PARAM, require_decision_id
from app.api.operations import operation
from app.api.schemas import DecisionOut, OutcomeBatchIn, OutcomeBatchOut, OutcomeIn

bp = Blueprint("outcomes", __name__)


@bp.post("/api/v1/decisions/<decision_id>/outcome")
@operation(
    "router",
    "Report the outcome of a decision",
    body=OutcomeIn,
    response=DecisionOut,
    status=201,
    errors=(404, 409, 503),
    path_params=DECISION_PARAM,
)
def record_outcome(decision_id: str, body: OutcomeIn):
    require_decision_id(decision_id)
    return engine().record_outcome(decision_id, body.model_dump()), 201


@bp.post("/api/v1/outcomes:batch")
@operation(
    "router",
    "Report many outcomes at once",
    body=OutcomeBatchIn,
    response=OutcomeBatchOut,
    errors=(503,),
    description="Each item is answered on its own: status 201 (recorded), 404 (no such "
    "decision), 409 (already has an outcome) or 503 (not accepted now; send it again). The "
    "request itself is 200.",
)
def record_outcomes(body: OutcomeBatchIn):
    results = engine().record_outcomes([item.model_dump() for item in body.items])
    accepted = sum(1 for item in results if item["status"] == 201)
    return {"items": results, "accepted": accepted, "rejected": len(results) - accepted}
