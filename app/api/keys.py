"""API keys over HTTP (admin): create (the key is in the answer once), list, revoke."""

from __future__ import annotations

import re

from flask import Blueprint

from app.api import auth
from app.api.operations import operation
from app.api.pagination import page
from app.api.schemas import KeyCreatedOut, KeyIn, KeyOut, Page, PageQuery
from app.problems import NotFound

bp = Blueprint("keys", __name__)
KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
_KEY_ID = re.compile(KEY_ID_PATTERN)


@bp.after_request
def _never_cached(response):
    """A created key is in its answer, once: no browser or proxy may keep a copy (and the
    other answers here list who holds which role)."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api/v1/keys")
@operation(
    "admin",
    "Create an API key",
    body=KeyIn,
    response=KeyCreatedOut,
    status=201,
    description="The answer holds the key itself, once; only its hash is stored.",
)
def create_key(body: KeyIn):
    record, key = auth.keyring().create(body.role, body.label)
    return {**record, "key": key}, 201


@bp.get("/api/v1/keys")
@operation(
    "admin", "List API keys (never the keys themselves)", query=PageQuery, response=Page[KeyOut]
)
def list_keys(query: PageQuery):
    return page(auth.keyring().list, "key_id", query.limit, query.cursor)


@bp.delete("/api/v1/keys/<key_id>")
@operation(
    "admin",
    "Revoke an API key",
    response=KeyOut,
    errors=(409,),
    path_params={"key_id": {"type": "string", "pattern": KEY_ID_PATTERN}},
    description="Effective at once in this process (within seconds on other hosts). "
    "The last active admin key cannot be revoked (409).",
)
def revoke_key(key_id: str):
    if not _KEY_ID.match(key_id):
        raise NotFound(f"no API key {key_id[:64]!r}")
    return auth.keyring().revoke(key_id, keep_an_admin=True)
