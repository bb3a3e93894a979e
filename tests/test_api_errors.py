"""Malformed requests: every error is application/problem+json, never a stack trace."""

from __future__ import annotations

import pytest
from support import assert_problem, model_body

from app import create_app


@pytest.mark.parametrize(
    "data,content_type,status",
    [
        ('{"id": "m",', "application/json", 400),
        ("", "application/json", 400),
        ("   ", "application/json", 400),
        ('{"id": NaN}', "application/json", 400),
        ('{"context_window": Infinity}', "application/json", 400),
        ('{"id": "a", "id": "b"}', "application/json", 400),
        (b'{"id": "\xff\xfe"}', "application/json", 400),
        ("id=m", "application/x-www-form-urlencoded", 415),
        ('{"id": "m"}', "text/plain", 415),
        ('{"id": "m"}', None, 415),
        ("[1, 2]", "application/json", 422),
        ('"text"', "application/json", 422),
        ("null", "application/json", 422),
    ],
)
def test_bad_bodies(shared_api, data, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    response = shared_api.call("POST", "/api/v1/models", data=data, headers=headers)
    assert_problem(response, status)


def test_body_of_another_type_names_the_body(api):
    problem = assert_problem(api.post("/api/v1/models", [model_body()]), 422, "body")
    assert "dictionary" in problem["errors"][0]["reason"]


def test_json_content_type_with_charset_is_accepted(api):
    import json

    response = api.call(
        "POST",
        "/api/v1/models",
        data=json.dumps(model_body()),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201


@pytest.mark.usefixtures("migrated")
def test_body_over_the_limit_is_413(overrides):
    app = create_app(dict(overrides, **{"api.max_body_bytes": 2048}))
    try:
        from app.api import auth

        _, key = auth.keyring(app).create("admin", "t")
        body = model_body(display_name="x" * 100, capabilities={f"c{n}": 0.5 for n in range(60)})
        body["padding"] = "y" * 4000
        response = app.test_client().post(
            "/api/v1/models", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert_problem(response, 413)
    finally:
        app.extensions["services"].stop()


def test_default_limit_is_one_mebibyte(api):
    body = model_body(display_name="x" * (1024 * 1024))
    assert_problem(api.post("/api/v1/models", body), 413)


def test_unknown_path_and_wrong_method_are_problems(api):
    assert_problem(api.get("/api/v1/nothing-here"), 404)
    response = api.call("PUT", "/api/v1/models")
    assert_problem(response, 405)
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))


def test_problem_has_the_rfc_9457_members(api):
    body = assert_problem(api.post("/api/v1/models", {"id": "x"}), 422)
    assert body["type"] == "about:blank" and body["instance"] == "/api/v1/models"
    assert all(set(error) == {"field", "reason"} for error in body["errors"])


def test_errors_do_not_echo_input_values(api):
    secret_like = "s3cr3t-value-that-must-not-echo"
    body = model_body(context_window=secret_like)
    problem = assert_problem(api.post("/api/v1/models", body), 422, "context_window")
    assert secret_like not in str(problem)


def test_a_value_too_large_for_its_column_is_a_422_naming_the_column():
    """HANA's 274 (SQLite stores anything, so the HANA backend's own translation of hdbcli's
    real error is raised from a route): a 422 naming the column, the value never quoted."""
    from flask import Flask
    from hdbcli import dbapi

    from app.config import Secret
    from app.db.hana import HanaBackend
    from app.problems import register_error_handlers

    backend = HanaBackend(host="127.0.0.1", port=1, user="u", password=Secret("p"))
    error = dbapi.Error(
        274,
        'inserted value too large for column: Failed in "ENDPOINT" column with the value '
        "'https://private.example/x'",
    )
    app = Flask(__name__)
    register_error_handlers(app)

    @app.post("/api/v1/models")
    def create():
        raise backend.translate(error)

    response = app.test_client().post("/api/v1/models")
    body = assert_problem(response, 422, "endpoint")
    assert "private.example" not in response.get_data(as_text=True)
    assert body["detail"] == "a value is too long to be stored: endpoint"


def test_errors_are_mapped_once_for_the_api_and_the_dashboard(app):
    """One mapping (app.problems.to_problem) under both renderings: a database outage is the
    same 503 with the same Retry-After on /api and on the dashboard (they once said 1 and 5)."""
    from app.db import errors as dberrors
    from app.problems import to_problem

    answers = []
    for path in ("/api/v1/models", "/dashboard/models"):
        with app.test_request_context(path):
            problem = to_problem(dberrors.DatabaseUnavailable("down"))
            answers.append((problem.status, problem.headers.get("Retry-After")))
    assert answers == [(503, "1"), (503, "1")]
