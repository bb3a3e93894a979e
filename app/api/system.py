"""GET /api/v1/system/db: connection pool and writer figures (viewer)."""

from __future__ import annotations

from flask import Blueprint

from app.api.context import engine
from app.api.operations import operation
from app.api.schemas import Figures

bp = Blueprint("system", __name__)


@bp.get("/api/v1/system/db")
@operation("viewer", "Database pool and writer figures", response=Figures)
def db_figures():
    return engine().db_figures()
