"""The engine between the API and the parts: what happens to load and learning when a write is
not acknowledged, and to a batch of outcomes while the database is down."""

from __future__ import annotations

import pytest

from app import create_app, problems
from app.db import errors, store
from app.ids import new_decision_id


@pytest.fixture
def make_app(overrides, migrated, tmp_path, monkeypatch):
    """An app whose SQLite database is down while the flag file exists (the fault backend)."""
    flag = tmp_path / "database-down"
    monkeypatch.setenv("MODEL_ROUTER_FAULT_FLAG", str(flag))
    apps = []

    def build():
        app = create_app(overrides)
        services = app.extensions["services"]
        store.create_model(
            services.db,
            {
                "id": "m1",
                "endpoint": "http://m1",
                "context_window": 8192,
                "max_concurrency": 4,
                "capabilities": {"chat": 0.9},
            },
        )
        store.create_agent(services.db, {"id": "a1", "requirements": {"chat": 1.0}})
        services.engine.catalog_changed()
        apps.append(app)
        return services, flag

    yield build
    for app in apps:
        app.extensions["services"].stop()


def test_a_route_the_writer_refuses_releases_its_load(make_app, monkeypatch):
    services, _ = make_app()

    def refuse(*args, **kwargs):
        raise errors.DatabaseUnavailable("database down and spool unusable")

    monkeypatch.setattr(services.writer, "write", refuse)
    for _ in range(3):
        with pytest.raises(errors.DatabaseUnavailable):
            services.engine.route("a1", None, 100, None)
    assert services.router.load.inflight("m1") == 0


def test_a_batch_of_outcomes_during_an_outage_answers_each_item(make_app):
    services, flag = make_app()
    routed = services.engine.route("a1", None, 100, None)
    flag.touch()  # the database goes down
    results = services.engine.record_outcomes(
        [
            {"decision_id": routed["decision_id"], "success": True, "latency_ms": 120.0},
            {"decision_id": new_decision_id(), "success": True, "latency_ms": 80.0},
        ]
    )
    assert [r["status"] for r in results] == [201, 503]  # spooled; unknown needs the database
    assert services.router.load.inflight("m1") == 0
    flag.unlink()


def test_an_outcome_is_learned_once(make_app):
    services, _ = make_app()
    routed = services.engine.route("a1", None, 100, None)
    services.router.abandon(routed["decision_id"], routed["model_id"])  # as if it had expired
    before = services.router.model_status()[0]["success_mean"]
    services.engine.record_outcome(routed["decision_id"], {"success": False, "latency_ms": 1.0})
    assert services.router.model_status()[0]["success_mean"] == before
    with pytest.raises(problems.Conflict):
        services.engine.record_outcome(routed["decision_id"], {"success": True, "latency_ms": 1.0})
