"""GET /api/v1/scores: the capability score matrix of active agents x active models."""

from __future__ import annotations

from flask import Blueprint

from app.api.context import engine
from app.api.operations import operation
from app.api.schemas import ScoresOut

bp = Blueprint("scores", __name__)


@bp.get("/api/v1/scores")
@operation(
    "reader",
    "Capability score matrix",
    response=ScoresOut,
    description="scores[i][j] is how well models[j] meets agents[i]'s requirements (0..1; "
    "null when infeasible); feasible[i][j] is false when a hard constraint "
    "(context, latency, cost) rules the pair out.",
)
def scores():
    return engine().scores()
