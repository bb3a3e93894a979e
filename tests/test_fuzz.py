"""Fuzzing every operation of /openapi.json with schemathesis (bounded in examples and time).

Valid and invalid requests, with an admin key: no 5xx, every status documented, responses
conform to their schemas, and every 4xx of the API is application/problem+json.
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from support import CATALOG_AGENTS, CATALOG_MODELS

from app.api import auth

pytestmark = pytest.mark.slow

EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 25, schemathesis.GenerationMode.NEGATIVE: 15}
BUDGET_S = 120.0  # the whole run; examples stop early past it
API_PREFIXES = ("/api/", "/metrics", "/openapi.json")
CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def test_fuzz_every_operation(app, client):
    key = auth.keyring(app).create("admin", "fuzz")[1]
    headers = {"Authorization": f"Bearer {key}"}
    for body in CATALOG_MODELS:  # some real ids, so that not every case is a 404
        client.post("/api/v1/models", json=body, headers=headers)
    for body in CATALOG_AGENTS:
        client.post("/api/v1/agents", json=body, headers=headers)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    deadline = time.monotonic() + BUDGET_S
    failures: dict[str, str] = {}
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, examples in EXAMPLES.items():
            ran += _fuzz(operation, mode, examples, headers, deadline, failures)
    assert failures == {}, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    assert ran > 100


def _fuzz(operation, mode, examples, headers, deadline, failures) -> int:
    label = f"{operation.label} [{mode.value}]"
    count = [0]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        if time.monotonic() > deadline:
            return
        count[0] += 1
        response = case.call(headers=headers)
        try:
            _no_server_error(case, response)
            case.validate_response(response, checks=CHECKS)
            _problem_json(case, response)
        except BaseException as exc:  # keep the first failure of each operation and mode
            failures.setdefault(label, _describe(case, response, exc))

    try:
        run()
    except Unsatisfiable:  # nothing invalid to generate (an operation without inputs)
        pass
    return count[0]


def _no_server_error(case, response) -> None:
    """No 5xx, but the one documented 503 of routing: an agent (the fuzzer creates some) that
    no active model serves has "no model available", with Retry-After."""
    if response.status_code < 500:
        return
    unserved = (
        response.status_code == 503
        and case.formatted_path == "/api/v1/route"
        and response.json()["detail"].startswith("no model available")
        and "retry-after" in {name.lower() for name in response.headers}
    )
    assert unserved, f"server error {response.status_code}"


def _problem_json(case, response) -> None:
    path = case.formatted_path
    if 400 <= response.status_code < 500 and path.startswith(API_PREFIXES):
        headers = {name.lower(): value for name, value in response.headers.items()}
        media = headers.get("content-type", [""])
        media = media[0] if isinstance(media, list) else media
        assert media.startswith("application/problem+json"), media
        body = response.json()
        assert body["status"] == response.status_code and body["title"] and body["detail"]


def _describe(case, response, exc) -> str:
    return (
        f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}\n"
        f"-> {response.status_code} {response.text[:300]}\n{exc!s:.1500}"
    )
