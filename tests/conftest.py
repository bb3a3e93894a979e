"""Shared fixtures: a real SQLite database built by the real migrations, the app and its client."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support import CATALOG_AGENTS, CATALOG_MODELS, FAST, ROLES, Api, Raw, seed

from app import create_app
from app.api import auth
from app.config import load_config
from app.db import deploy
from app.db.database import Database, PoolSettings
from app.db.faults import FaultySqliteBackend
from app.db.retry import Backoff
from app.db.spool import Spool
from app.db.writer import Writer

# Tests never read the developer's environment for settings (HANA_TEST_* name test servers).
_SETTING_ENV_PREFIXES = ("HANA_", "MODEL_ROUTER_")


def _settings_in_env() -> list[str]:
    return [
        name
        for name in os.environ
        if name.startswith(_SETTING_ENV_PREFIXES) and not name.startswith("HANA_TEST_")
    ]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in _settings_in_env():
        monkeypatch.delenv(name, raising=False)


def app_settings(folder: Path) -> dict:
    """Settings for a test app in `folder`: a private database, no background loops, small
    pool."""
    return {
        "sqlite.path": str(folder / "router.db"),
        "spool.path": str(folder / "spool.db"),
        "background.enabled": False,
        "pool.min_connections": 1,
        "pool.max_connections": 4,
        "catalog.bootstrap_file": "",
    }


@pytest.fixture
def overrides(tmp_path) -> dict:
    return app_settings(tmp_path)


@pytest.fixture
def config(overrides):
    return load_config(overrides, env={})


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One database migrated by the real migrations and deploy step, once per session."""
    from app.db.sqlite import SqliteBackend

    path = tmp_path_factory.mktemp("template") / "router.db"
    deploy.migrate(SqliteBackend(path))
    return path


def copy_template(template: Path, target: Path | str) -> None:
    """A private copy of the migrated template: its files, as nothing holds it open."""
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, f"{target}{suffix}")


@pytest.fixture
def migrated(config, migrated_template):
    copy_template(migrated_template, config["sqlite.path"])
    return config


@pytest.fixture
def db(migrated):
    database = Database.from_config(migrated)
    database.start()
    yield database
    database.close()


@pytest.fixture
def app(migrated, overrides):
    application = create_app(overrides)
    application.config["TESTING"] = True
    yield application
    application.extensions["services"].stop()


@pytest.fixture
def client(app):
    return app.test_client()


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
def shared_api(tmp_path_factory, migrated_template):
    """One app (and a key per role) for a module's tests that change nothing: refused writes,
    reads of missing things, role checks. Building an app per case would dominate the run."""
    folder = tmp_path_factory.mktemp("shared")
    copy_template(migrated_template, folder / "router.db")
    settings = app_settings(folder)
    with pytest.MonkeyPatch.context() as env:  # settings come from `settings` only
        for name in _settings_in_env():
            env.delenv(name)
        application = create_app(settings)
    application.config["TESTING"] = True
    ring = auth.keyring(application)
    yield Api(application.test_client(), {role: ring.create(role, role)[1] for role in ROLES})
    application.extensions["services"].stop()


# -- the writer's tests -------------------------------------------------------------------------


@pytest.fixture
def writers():
    """Builds writers and stops every one at teardown."""
    made: list[Writer] = []

    def make(db, spool, **kwargs) -> Writer:
        spool = spool if isinstance(spool, Spool) else Spool(spool)
        writer = Writer(db, spool, **{**FAST, **kwargs}).start()
        made.append(writer)
        return writer

    yield make
    for writer in made:
        assert writer.stop(timeout=5.0)


@pytest.fixture
def seeded(db):
    return seed(db)


@pytest.fixture
def raw(migrated) -> Raw:
    return Raw(migrated["sqlite.path"])


@pytest.fixture
def faulty(migrated):
    """A started Database on the migrated file whose backend fails on demand."""
    backend = FaultySqliteBackend(migrated["sqlite.path"], busy_timeout_ms=2000)
    database = Database(
        backend,
        pool=PoolSettings(min_size=1, max_size=4, acquire_timeout=0.3, health_check_interval=0.2),
        backoff=Backoff(retries=1, initial=0.01, cap=0.05),
    )
    database.start()
    yield database
    backend.fail_now = False
    database.close()
