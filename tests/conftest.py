"""Shared fixtures: a real SQLite database built by the real migrations, the app and its client."""

from __future__ import annotations

import os
import sqlite3

import pytest

from app.config import load_config
from app.db import deploy
from app.db.database import Database

# Tests never read the developer's environment for settings (HANA_TEST_* name test servers).
_SETTING_ENV_PREFIXES = ("HANA_", "MODEL_ROUTER_")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(_SETTING_ENV_PREFIXES) and not name.startswith("HANA_TEST_"):
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


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """One database migrated by the real migrations and deploy step, once per session."""
    from app.db.sqlite import SqliteBackend

    path = str(tmp_path_factory.mktemp("template") / "router.db")
    deploy.migrate(SqliteBackend(path))
    return path


@pytest.fixture
def migrated(config, migrated_template):
    """A private copy of the migrated template (sqlite's backup API: consistent with WAL)."""
    source = sqlite3.connect(migrated_template)
    target = sqlite3.connect(config["sqlite.path"])
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
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
