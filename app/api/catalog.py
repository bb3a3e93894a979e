"""What the model and agent resources share: create, list, read, merge-patch, disable.

Every write goes through one store call (one transaction) and then `engine.catalog_changed()`, so
rankings cached from the old catalog are dropped before the response is sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for
from pydantic import BaseModel

from app.api.context import db, engine
from app.api.pagination import page
from app.api.schemas import ID_PATTERN
from app.api.validation import validate
from app.db import errors as dberrors
from app.problems import Conflict, InvalidInput, NotFound

_ID = re.compile(ID_PATTERN)
ID_PARAM_SCHEMA = {"type": "string", "pattern": ID_PATTERN, "maxLength": 128}


def require_id(kind: str, value: str) -> None:
    """An id outside the id alphabet names nothing: 404 without a database read."""
    if not _ID.match(value):
        raise NotFound(f"no {kind} {value[:64]!r}")


def merge_patch(current: dict, patch: dict, mapping_field: str) -> dict:
    """RFC 7396 merge of `patch` into `current`; inside `mapping_field` a null removes a key."""
    merged = {
        key: value for key, value in current.items() if key not in ("created_at", "updated_at")
    }
    for key, value in patch.items():
        if key == mapping_field:
            inner = dict(current.get(mapping_field) or {})
            for name, score in value.items():
                if score is None:
                    inner.pop(name, None)
                else:
                    inner[name] = score
            merged[key] = inner
        else:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class Resource:
    """One catalog resource (models or agents) over its store functions."""

    kind: str  # "model" / "agent"
    full: type[BaseModel]  # the complete record, validated on create and after a merge
    mapping_field: str  # "capabilities" / "requirements"
    endpoint: str  # the view answering GET one, for Location
    create_fn: Callable
    get_fn: Callable
    list_fn: Callable
    update_fn: Callable

    def create(self, body: BaseModel):
        try:
            record = self.create_fn(db(), body.model_dump())
        except dberrors.UniqueViolation:
            raise Conflict(f"{self.kind} {body.id!r} exists; PATCH it instead") from None
        except dberrors.ConstraintViolation:
            raise InvalidInput(f"the database refused the {self.kind}") from None
        engine().catalog_changed()
        location = url_for(self.endpoint, **{f"{self.kind}_id": body.id})
        return record, 201, {"Location": location}

    def list(self, query) -> dict:
        status = getattr(query, "status", None)
        return page(
            lambda after, n: self.list_fn(db(), after=after, limit=n, status=status),
            "id",
            query.limit,
            query.cursor,
        )

    def get(self, item_id: str) -> dict:
        require_id(self.kind, item_id)
        record = self.get_fn(db(), item_id)
        if record is None:
            raise NotFound(f"no {self.kind} {item_id!r}")
        return record

    def patch(self, item_id: str, body: BaseModel) -> dict:
        current = self.get(item_id)
        merged = merge_patch(current, body.model_dump(exclude_unset=True), self.mapping_field)
        # The patch itself was checked strictly; stored values are trusted as the driver typed
        # them. This checks the merged record as a whole (ranges, at least one weight).
        record = validate(self.full, merged, strict=False)
        return self._write(item_id, record.model_dump())

    def disable(self, item_id: str) -> dict:
        current = self.get(item_id)
        if current["status"] == "disabled":
            return current
        return self._write(item_id, {**current, "status": "disabled"})

    def _write(self, item_id: str, record: dict) -> dict:
        record.pop("created_at", None)
        record.pop("updated_at", None)
        try:
            updated = self.update_fn(db(), item_id, record)
        except dberrors.ConstraintViolation:
            raise InvalidInput(f"the database refused the {self.kind}") from None
        if updated is None:  # removed between the read and the write
            raise NotFound(f"no {self.kind} {item_id!r}")
        engine().catalog_changed()
        return updated
