"""The model catalog: /api/v1/models (reads: any role; writes: admin). DELETE disables."""

from __future__ import annotations

from flask import Blueprint

from app.api.catalog import ID_PARAM_SCHEMA, Resource
from app.api.operations import operation
from app.api.schemas import ModelIn, ModelListQuery, ModelOut, ModelPatch, Page
from app.db import store

bp = Blueprint("models", __name__)
PARAM = {"model_id": ID_PARAM_SCHEMA}
models = Resource(
    "model",
    ModelIn,
    "capabilities",
    "models.get_model",
    store.create_model,
    store.get_model,
    store.list_models,
    store.update_model,
)


@bp.post("/api/v1/models")
@operation("admin", "Register a model", body=ModelIn, response=ModelOut, status=201, errors=(409,))
def create_model(body: ModelIn):
    return models.create(body)


@bp.get("/api/v1/models")
@operation(
    "reader",
    "List models",
    query=ModelListQuery,
    response=Page[ModelOut],
    description="Sorted by id; `status` filters; follow `next_cursor` for more.",
)
def list_models(query: ModelListQuery):
    return models.list(query)


@bp.get("/api/v1/models/<model_id>")
@operation("reader", "Read a model", response=ModelOut, path_params=PARAM)
def get_model(model_id: str):
    return models.get(model_id)


@bp.patch("/api/v1/models/<model_id>")
@operation(
    "admin",
    "Change some fields of a model",
    body=ModelPatch,
    response=ModelOut,
    path_params=PARAM,
    description="Fields not sent are kept. `capabilities` merges: a capability set to "
    "null is removed, capabilities not named are kept.",
)
def patch_model(model_id: str, body: ModelPatch):
    return models.patch(model_id, body)


@bp.delete("/api/v1/models/<model_id>")
@operation(
    "admin",
    "Disable a model",
    response=ModelOut,
    path_params=PARAM,
    description="Sets status to disabled (history keeps its rows); PATCH status back to "
    "active to re-enable.",
)
def disable_model(model_id: str):
    return models.disable(model_id)
