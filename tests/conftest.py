"""Shared fixtures: a real SQLite database built by the real migrations, the app and its client."""

from __future__ import annotations

import os

import pytest

from app.config import load_config
from app.db import deploy
from app.db.database import Database

# Tests never read the developer's environment for settings.
_SETTING_ENV_PREFIXES = ("HANA_", "MODEL_ROUTER_")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(_SETTING_ENV_PREFIXES) and name != "HANA_TEST_URL":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def overrides(tmp_path) -> dict:
    """Settings for a test app: a private database, no background loops, small pool."""
    return {
        "sqlite.path": str(tmp_path / "router.db"),
        "spool.path": str(tmp_path / "spool.db"),
        "background.enabled": False,
        "pool.min_connections": 1,
        "pool.max_connections": 4,
        "catalog.bootstrap_file": "",
    }


@pytest.fixture
def config(overrides):
    return load_config(overrides, env={})


@pytest.fixture
def migrated(config):
    """The database file migrated by the real migrations and deploy step."""
    db = Database.from_config(config)
    deploy.migrate(db.backend)
    return config


@pytest.fixture
def db(migrated):
    database = Database.from_config(migrated)
    database.start()
    yield database
    database.close()


@pytest.fixture
def app(migrated, overrides):
    from app import create_app

    application = create_app(overrides)
    application.config["TESTING"] = True
    yield application
    application.extensions["router"].stop()


@pytest.fixture
def client(app):
    return app.test_client()
