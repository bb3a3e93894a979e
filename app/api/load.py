"""GET /api/v1/load: live in-flight load per model and the models cooling down (viewer)."""

from __future__ import annotations

from flask import Blueprint

from app.api.context import engine
from app.api.operations import operation
from app.api.schemas import LoadOut

bp = Blueprint("load", __name__)


@bp.get("/api/v1/load")
@operation("viewer", "Live load per model", response=LoadOut)
def load():
    current = engine()
    return {"items": current.load(), "cooldowns": current.cooldowns()}
