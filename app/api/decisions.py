"""GET /api/v1/decisions/{id}: one routing decision with its outcome, if any (any role)."""

from __future__ import annotations

import re

from flask import Blueprint

from app.api.context import engine
from app.api.operations import operation
from app.api.schemas import UUID_PATTERN, DecisionOut
from app.problems import NotFound

bp = Blueprint("decisions", __name__)

DECISION_PARAM = {
    "decision_id": {
        "type": "string",
        "pattern": UUID_PATTERN,
        "description": "A decision id (UUIDv7) returned by /route.",
    }
}
_DECISION_ID = re.compile(UUID_PATTERN)


def require_decision_id(decision_id: str) -> None:
    """A string that is not a decision id names no decision: 404 without a database read."""
    if not _DECISION_ID.match(decision_id):
        raise NotFound(f"no decision {decision_id[:64]!r}")


@bp.get("/api/v1/decisions/<decision_id>")
@operation(
    "reader",
    "Read one decision and its outcome",
    response=DecisionOut,
    errors=(404,),
    path_params=DECISION_PARAM,
)
def get_decision(decision_id: str):
    require_decision_id(decision_id)
    return engine().decision(decision_id)
