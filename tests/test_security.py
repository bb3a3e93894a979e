"""Hostile input is stored verbatim or refused with 422, never executed; no secret ever leaks."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from support import ROLES, Api, agent_body, assert_problem, model_body

from app import create_app
from app.api import auth

HOSTILE = [
    "'; DROP TABLE MODELS; --",
    "Robert'); DROP TABLE AGENTS;--",
    '" OR "1"="1',
    "1; DELETE FROM API_KEYS WHERE 1=1",
    "%s %(x)s {0} :model_id ?",
    "<script>alert(1)</script>",
    "模型 🚀 Ωmega — naïve",
    "\\' \\\" \\\\",
]
TABLES = {
    "MODELS",
    "MODEL_CAPABILITIES",
    "AGENTS",
    "AGENT_REQUIREMENTS",
    "API_KEYS",
    "ROUTING_DECISIONS",
    "INFERENCE_METRICS",
    "ALERT_RULES",
    "ALERTS",
}
PASSWORD = "Hunter2-db-password-never-shown"


def _tables(config) -> set[str]:
    with sqlite3.connect(config["sqlite.path"]) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _settings(api: Api):
    return api.client.application.extensions["services"].config


@pytest.mark.parametrize("text", HOSTILE)
def test_text_fields_are_stored_verbatim(api, config, text):
    created = api.post("/api/v1/models", model_body("m1", display_name=text, provider=text))
    assert created.status_code == 201, created.get_json()
    assert api.get("/api/v1/models/m1").get_json()["display_name"] == text
    assert api.get("/api/v1/models/m1").get_json()["provider"] == text
    agent = api.post("/api/v1/agents", agent_body("a1", display_name=text))
    assert agent.status_code == 201 and agent.get_json()["display_name"] == text
    key = api.post("/api/v1/keys", {"role": "viewer", "label": text}).get_json()
    assert key["label"] == text
    listed = api.get("/api/v1/keys?limit=500").get_json()["items"]
    assert text in [k["label"] for k in listed]
    assert TABLES <= _tables(config)
    assert len(listed) == 4  # three from the fixture, this one; none deleted


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize(
    "kind,field",
    [
        ("models", "id"),
        ("agents", "id"),
        ("agents", "task_type"),
        ("models", "capabilities"),
        ("agents", "requirements"),
    ],
)
def test_hostile_ids_are_refused(shared_api, text, kind, field):
    make = model_body if kind == "models" else agent_body
    if field in ("capabilities", "requirements"):
        body = make("ok", **{field: {text: 0.5}})
        expected = f"{field}.{text}"
    else:
        body = make("ok", **{field: text})
        expected = field
    assert_problem(shared_api.post(f"/api/v1/{kind}", body), 422, expected)
    assert shared_api.get(f"/api/v1/{kind}").get_json()["items"] == []
    assert TABLES <= _tables(_settings(shared_api))


@pytest.mark.parametrize("text", HOSTILE + ["x" * 5000])
def test_hostile_ids_in_paths_and_queries(shared_api, text):
    from urllib.parse import quote

    shared_api.post("/api/v1/models", model_body("m1"))
    segment = quote(text, safe="")
    for method, path in [
        ("GET", f"/api/v1/models/{segment}"),
        ("PATCH", f"/api/v1/models/{segment}"),
        ("DELETE", f"/api/v1/agents/{segment}"),
        ("GET", f"/api/v1/decisions/{segment}"),
        ("DELETE", f"/api/v1/keys/{segment}"),
        ("GET", f"/api/v1/analytics/models/{segment}/performance"),
    ]:
        response = shared_api.call(
            method, path, {"display_name": "x"} if method == "PATCH" else None
        )
        assert response.status_code in (404, 422), (method, path, response.status_code)
        assert response.mimetype == "application/problem+json"
    for query in [f"status={segment}", f"cursor={segment}", f"limit={segment}"]:
        assert_problem(shared_api.get(f"/api/v1/models?{query}"), 422)
    for body in [
        {"agent_id": text},
        {"agent_id": "a", "task_type": text},
        {"agent_id": "a", "strategy": text},
    ]:
        assert_problem(shared_api.post("/api/v1/route", body), 422)
    assert_problem(shared_api.put("/api/v1/assignments/a1", {"model_id": text}), 422, "model_id")
    assert TABLES <= _tables(_settings(shared_api))
    assert [m["id"] for m in shared_api.get("/api/v1/models").get_json()["items"]] == ["m1"]


@pytest.mark.parametrize(
    "field,length,ok",
    [
        ("display_name", 200, True),
        ("display_name", 201, False),
        ("display_name", 100_000, False),
        ("id", 128, True),
        ("id", 129, False),
        ("endpoint", 2048, True),
        ("endpoint", 2049, False),
    ],
)
def test_long_strings(api, field, length, ok):
    value = ("http://h/" + "p" * (length - 9)) if field == "endpoint" else "n" * length
    response = api.post("/api/v1/models", model_body("m1", **{field: value}))
    if ok:
        assert response.status_code == 201
        model_id = value if field == "id" else "m1"
        assert api.get(f"/api/v1/models/{model_id}").get_json()[field] == value
    else:
        assert_problem(response, 422, field)


@pytest.fixture
def secret_app(overrides, app):
    """A second app on the migrated database, holding a database password to leak."""
    application = create_app(dict(overrides, **{"hana.password": PASSWORD}))
    application.config["TESTING"] = True
    yield application
    application.extensions["services"].stop()


def test_no_endpoint_or_log_line_shows_a_key_or_the_password(secret_app, caplog):
    caplog.set_level(logging.DEBUG)
    ring = auth.keyring(secret_app)
    keys = {role: ring.create(role, f"{role} key")[1] for role in ROLES}
    api = Api(secret_app.test_client(), keys)
    created = api.post("/api/v1/keys", {"role": "router", "label": "made over http"})
    new_key = created.get_json()["key"]
    api.post("/api/v1/models", model_body("m1"))
    api.post("/api/v1/agents", agent_body("a1"))
    forged = keys["admin"][:-5] + "AAAAA"
    bodies = []
    for path in [
        "/openapi.json",
        "/readyz",
        "/healthz",
        "/metrics",
        "/api/v1/system/db",
        "/api/v1/keys",
        "/api/v1/models",
        "/api/v1/agents",
        "/api/v1/load",
        "/api/v1/alerts",
        "/api/v1/alert-rules",
        "/api/v1/analytics/routing-stats",
        "/api/v1/analytics/summary-24h",
        "/api/v1/analytics/top-pairs",
        "/api/v1/assignments",
        "/api/v1/scores",
        "/api/v1/nowhere",
    ]:
        for role in ("admin", "viewer"):
            bodies.append(api.get(path, role=role).get_data(as_text=True))
        bodies.append(
            api.client.get(path, headers={"Authorization": f"Bearer {forged}"}).get_data(
                as_text=True
            )
        )
    bodies.append(
        api.client.get("/api/v1/models", headers={"Authorization": "Bearer " + PASSWORD}).get_data(
            as_text=True
        )
    )
    secrets = [PASSWORD, forged, new_key, *keys.values()]
    secrets += [key.split("_", 2)[2] for key in [forged, new_key, *keys.values()]]
    logs = "\n".join(record.getMessage() for record in caplog.records)
    logs += "\n".join(str(record.args) for record in caplog.records)
    for secret in secrets:
        assert secret not in logs
        assert all(secret not in body for body in bodies)
    assert "API key" in logs  # the key ids are logged, the keys are not
