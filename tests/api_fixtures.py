"""Fixtures of the API tests; test modules load them with `pytest_plugins = ["api_fixtures"]`."""

from __future__ import annotations

import pytest
from api_support import CATALOG_AGENTS, CATALOG_MODELS, ROLES, Api

from app.api import auth
from app.config import load_config
from app.db import deploy
from app.db.database import Database


@pytest.fixture(scope="session")
def template_db(tmp_path_factory):
    """One database migrated by the real migrations per session; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "router.db"
    settings = load_config({"sqlite.path": str(path), "catalog.bootstrap_file": ""}, env={})
    deploy.migrate(Database.from_config(settings).backend)
    return path


@pytest.fixture
def keys(app) -> dict[str, str]:
    """One fresh key per role, made through the app's key ring."""
    ring = auth.keyring(app)
    return {role: ring.create(role, f"test {role}")[1] for role in ROLES}


@pytest.fixture
def api(client, keys) -> Api:
    return Api(client, keys)


@pytest.fixture
def catalog(api) -> dict:
    """Three models and two agents registered through the API."""
    for body in CATALOG_MODELS:
        assert api.post("/api/v1/models", body).status_code == 201
    for body in CATALOG_AGENTS:
        assert api.post("/api/v1/agents", body).status_code == 201
    return {
        "models": [m["id"] for m in CATALOG_MODELS],
        "agents": [a["id"] for a in CATALOG_AGENTS],
    }
