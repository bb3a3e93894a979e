"""Agents and their requirements: /api/v1/agents (reads: any role; writes: admin).

DELETE disables."""

from __future__ import annotations

from flask import Blueprint

from app.api.catalog import ID_PARAM_SCHEMA, Resource
from app.api.operations import operation
from app.api.schemas import AgentIn, AgentListQuery, AgentOut, AgentPatch, Page
from app.db import store

bp = Blueprint("agents", __name__)
PARAM = {"agent_id": ID_PARAM_SCHEMA}
agents = Resource(
    "agent",
    AgentIn,
    "requirements",
    "agents.get_agent",
    store.create_agent,
    store.get_agent,
    store.list_agents,
    store.update_agent,
)


@bp.post("/api/v1/agents")
@operation("admin", "Register an agent", body=AgentIn, response=AgentOut, status=201, errors=(409,))
def create_agent(body: AgentIn):
    return agents.create(body)


@bp.get("/api/v1/agents")
@operation(
    "reader",
    "List agents",
    query=AgentListQuery,
    response=Page[AgentOut],
    description="Sorted by id; `status` filters; follow `next_cursor` for more.",
)
def list_agents(query: AgentListQuery):
    return agents.list(query)


@bp.get("/api/v1/agents/<agent_id>")
@operation("reader", "Read an agent", response=AgentOut, path_params=PARAM)
def get_agent(agent_id: str):
    return agents.get(agent_id)


@bp.patch("/api/v1/agents/<agent_id>")
@operation(
    "admin",
    "Change some fields of an agent",
    body=AgentPatch,
    response=AgentOut,
    path_params=PARAM,
    description="Fields not sent are kept. `requirements` merges: a requirement set to "
    "null is removed, requirements not named are kept.",
)
def patch_agent(agent_id: str, body: AgentPatch):
    return agents.patch(agent_id, body)


@bp.delete("/api/v1/agents/<agent_id>")
@operation(
    "admin",
    "Disable an agent",
    response=AgentOut,
    path_params=PARAM,
    description="Sets status to disabled (history keeps its rows); PATCH status back to "
    "active to re-enable.",
)
def disable_agent(agent_id: str):
    return agents.disable(agent_id)
