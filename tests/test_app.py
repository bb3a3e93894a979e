"""App factory, probes and start-up while the database is unreachable."""

from __future__ import annotations

import time

import pytest

from app import create_app


def test_healthz_is_open(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_reports_database_migrations_and_pool(client):
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["database"] == "ok" and body["migrations"] == "current"
    assert {"size", "idle", "active", "waiting"} <= set(body["pool"])


def test_readyz_is_503_with_pending_migrations(overrides):
    app = create_app(overrides)  # the database file exists but was never migrated
    try:
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["migrations"].startswith("pending")
    finally:
        app.extensions["services"].stop()


def test_unknown_route_is_problem_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


@pytest.mark.slow
def test_service_starts_while_database_unreachable_and_recovers(tmp_path, overrides, migrated):
    """A file in place of the database's directory makes SQLite fail to open, like an outage."""
    from app.db import deploy
    from app.db.sqlite import SqliteBackend

    db_path = tmp_path / "later" / "router.db"
    db_path.parent.write_text("not a directory")  # the database cannot be opened yet
    settings = dict(
        overrides,
        **{
            "sqlite.path": str(db_path),
            "pool.min_connections": 1,
            "pool.health_check_interval_ms": 50,
            "retry.initial_delay_ms": 10,
            "retry.max_delay_ms": 50,
        },
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["database"].startswith("unreachable")
        db_path.parent.unlink()
        deploy.migrate(SqliteBackend(db_path))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if client.get("/readyz").status_code == 200:
                break
            time.sleep(0.05)
        assert client.get("/readyz").status_code == 200
    finally:
        app.extensions["services"].stop()


def test_every_response_carries_a_request_id(client):
    first = client.get("/healthz")
    assert len(first.headers["X-Request-Id"]) == 32
    echoed = client.get("/nowhere", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["X-Request-Id"] == "abc-123"
    refused = client.get("/healthz", headers={"X-Request-Id": "bad id <script>"})
    assert refused.headers["X-Request-Id"] != "bad id <script>"


def test_json_log_lines_carry_the_request_id(app, capsys):
    import json
    import logging

    from app.logs import JsonFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    from app.logs import RequestIdFilter

    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("test.json")
    logger.addHandler(handler)
    try:
        with app.test_request_context("/x", headers={"X-Request-Id": "req-42"}):
            app.preprocess_request()
            logger.warning("hello %s", "world")
    finally:
        logger.removeHandler(handler)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["request_id"] == "req-42" and line["message"] == "hello world"
