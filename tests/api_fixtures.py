"""Fixtures of the API tests; test modules load them with `pytest_plugins = ["api_fixtures"]`."""

from __future__ import annotations

import os
import shutil

import pytest
from api_support import CATALOG_AGENTS, CATALOG_MODELS, ROLES, Api

from app import create_app
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


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory, template_db):
    """One app (and a key per role) for a module's tests that change nothing: refused writes,
    reads of missing things, role checks. Building an app per case would dominate the run."""
    folder = tmp_path_factory.mktemp("shared")
    shutil.copyfile(template_db, folder / "router.db")
    settings = {
        "sqlite.path": str(folder / "router.db"),
        "spool.path": str(folder / "spool.db"),
        "background.enabled": False,
        "pool.min_connections": 1,
        "pool.max_connections": 4,
        "catalog.bootstrap_file": "",
    }
    with pytest.MonkeyPatch.context() as env:  # settings come from `settings` only
        for name in list(os.environ):
            if name.startswith(("HANA_", "MODEL_ROUTER_")) and name != "HANA_TEST_URL":
                env.delenv(name)
        application = create_app(settings)
    application.config["TESTING"] = True
    ring = auth.keyring(application)
    yield Api(application.test_client(), {role: ring.create(role, role)[1] for role in ROLES})
    application.extensions["router"].stop()
