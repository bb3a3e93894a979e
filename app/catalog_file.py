"""Catalog files: `{"version": 1, "models": [...], "agents": [...]}`, each entry the body of
POST /models or /agents (validated by the same schemas). Used by `model-router bootstrap`,
`catalog import` and `catalog export`; an export imported into an empty database gives the same
catalog back.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from app.api.schemas import AgentIn, CatalogFile, ModelIn
from app.api.validation import JsonRefused, field_errors, parse_json
from app.db import store

_PAGE = 500


class CatalogFileError(ValueError):
    """The file is missing, not JSON or not a valid catalog; the message says where."""


def read_catalog(path: str | Path) -> CatalogFile:
    path = Path(path)
    try:
        data = parse_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogFileError(f"{path}: cannot read ({exc.strerror})") from None
    except JsonRefused as exc:
        raise CatalogFileError(f"{path}: {exc}") from None
    try:
        return CatalogFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{e['field']}: {e['reason']}" for e in field_errors(exc)[:20])
        raise CatalogFileError(f"{path}: not a valid catalog: {problems}") from None


def import_catalog(db, catalog: CatalogFile) -> dict:
    """Create or replace every model and agent of `catalog` in one transaction."""

    def work(conn):
        for model in catalog.models:
            store.upsert_model(db, model.model_dump(), conn=conn)
        for agent in catalog.agents:
            store.upsert_agent(db, agent.model_dump(), conn=conn)
        return {"models": len(catalog.models), "agents": len(catalog.agents)}

    return db.run_in_transaction(work)


def export_catalog(db) -> dict:
    """Every model and agent (disabled ones too), as a catalog file body."""
    return {
        "version": 1,
        "models": [_fields(ModelIn, row) for row in _all(db, store.list_models)],
        "agents": [_fields(AgentIn, row) for row in _all(db, store.list_agents)],
    }


def catalog_is_empty(db) -> bool:
    return not store.list_models(db, limit=1) and not store.list_agents(db, limit=1)


def dumps(catalog: dict) -> str:
    return json.dumps(catalog, indent=2, ensure_ascii=False) + "\n"


def _all(db, list_fn) -> list[dict]:
    rows, after = [], None
    while True:
        batch = list_fn(db, after=after, limit=_PAGE)
        rows.extend(batch)
        if len(batch) < _PAGE:
            return rows
        after = batch[-1]["id"]


def _fields(model: type, row: dict) -> dict:
    return {name: row.get(name) for name in model.model_fields}
