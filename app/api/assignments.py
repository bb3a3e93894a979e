"""Agent to model assignments: the optimal run (POST /assignments/auto), the active set, and
manual pins (PUT /assignments/{agent_id}). Writes need admin; the list any role."""

from __future__ import annotations

from flask import Blueprint

from app.api.catalog import ID_PARAM_SCHEMA, require_id
from app.api.context import db, engine
from app.api.operations import operation
from app.api.pagination import page_of
from app.api.schemas import AssignmentOut, AutoAssignIn, AutoAssignOut, Page, PageQuery, PinIn
from app.db import store

bp = Blueprint("assignments", __name__)


@bp.post("/api/v1/assignments/auto")
@operation(
    "admin",
    "Assign every agent a model (Hungarian or greedy)",
    body=AutoAssignIn,
    response=AutoAssignOut,
    errors=(503,),
    description="Scores all agents against all models, solves the assignment with model "
    "capacity slots and compares with the greedy baseline. With dry_run the "
    "result is returned and nothing is activated.",
)
def auto_assign(body: AutoAssignIn):
    return engine().auto_assign(body.method, body.dry_run)  # the engine reloads the catalog


@bp.get("/api/v1/assignments")
@operation(
    "reader",
    "List the active assignments",
    query=PageQuery,
    response=Page[AssignmentOut],
    description="Sorted by agent id.",
)
def list_assignments(query: PageQuery):
    return page_of(store.get_active_assignments(db()), "agent_id", query.limit, query.cursor)


@bp.put("/api/v1/assignments/<agent_id>")
@operation(
    "admin",
    "Pin an agent to a model",
    body=PinIn,
    response=AssignmentOut,
    errors=(409,),
    path_params={"agent_id": ID_PARAM_SCHEMA},
    description="A manual assignment, active at once; the next auto-assign run keeps it "
    "unless the agent or the model is disabled. 404 for an unknown agent or model, 409 "
    "when the model is not active.",
)
def pin(agent_id: str, body: PinIn):
    require_id("agent", agent_id)
    return engine().pin(agent_id, body.model_id)  # the engine reloads the catalog
