"""Route, decisions and outcomes: POST /route, GET /decisions/{id}, outcomes one by one and in
batches."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support import assert_problem

from app.api.schemas import STRATEGIES, RouteOut

UNKNOWN_DECISION = "018f3c2e-7d4a-7b1c-8d2e-123456789abc"


def _route(api, agent_id="chat-bot", **extra) -> dict:
    response = api.post("/api/v1/route", {"agent_id": agent_id, **extra}, role="router")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_route_answers_a_decision(api, catalog):
    decision = _route(api, prompt_tokens=1200)
    assert set(decision) == set(RouteOut.model_fields)  # exactly the documented answer
    assert uuid.UUID(decision["decision_id"]).version == 7
    assert decision["model_id"] in catalog["models"]
    assert decision["endpoint"].startswith("http://")
    assert decision["strategy"] in STRATEGIES and isinstance(decision["cache_hit"], bool)
    assert all(set(f) == {"model_id", "endpoint"} for f in decision["fallbacks"])
    assert decision["model_id"] not in [f["model_id"] for f in decision["fallbacks"]]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_route_with_each_strategy(api, catalog, strategy):
    decision = _route(api, strategy=strategy, task_type="coding")
    assert decision["strategy"] == strategy


def test_second_route_is_a_cache_hit(api, catalog):
    _route(api)
    assert _route(api)["cache_hit"] is True


def test_unknown_or_disabled_agent_is_404(api, catalog):
    assert_problem(api.post("/api/v1/route", {"agent_id": "nobody"}, role="router"), 404)
    api.delete("/api/v1/agents/chat-bot")
    assert_problem(api.post("/api/v1/route", {"agent_id": "chat-bot"}, role="router"), 404)


def test_no_model_available_is_503_with_retry_after(api, catalog):
    for model_id in catalog["models"]:
        assert api.delete(f"/api/v1/models/{model_id}").status_code == 200
    response = api.post("/api/v1/route", {"agent_id": "chat-bot"}, role="router")
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "agent_id"),
        ({"agent_id": "bad id"}, "agent_id"),
        ({"agent_id": 7}, "agent_id"),
        ({"agent_id": "a", "prompt_tokens": -1}, "prompt_tokens"),
        ({"agent_id": "a", "prompt_tokens": "10"}, "prompt_tokens"),
        ({"agent_id": "a", "prompt_tokens": 1.5}, "prompt_tokens"),
        ({"agent_id": "a", "strategy": "random"}, "strategy"),
        ({"agent_id": "a", "task_type": "two words"}, "task_type"),
        ({"agent_id": "a", "model_id": "m"}, "model_id"),
    ],
)
def test_route_validation(shared_api, body, field):
    assert_problem(shared_api.post("/api/v1/route", body, role="router"), 422, field)


def test_decisions_are_counted_in_metrics(api, catalog):
    decision = _route(api, strategy="least_loaded")
    text = api.get("/metrics", role="viewer").get_data(as_text=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    key = (
        "model_router_route_decisions_total",
        (("model_id", decision["model_id"]), ("strategy", "least_loaded")),
    )
    assert samples[key] == 1
    assert samples[("model_router_cache_misses", ())] >= 1


# -- outcomes --------------------------------------------------------------------------------------


def test_outcome_is_recorded_once(api, catalog):
    decision = _route(api)
    outcome = {"success": True, "latency_ms": 812.5, "tokens_in": 1200, "tokens_out": 300}
    path = f"/api/v1/decisions/{decision['decision_id']}/outcome"
    response = api.post(path, outcome, role="router")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["decision_id"] == decision["decision_id"]
    assert {k: body["outcome"][k] for k in outcome} == outcome
    assert body["outcome"]["error_code"] is None and body["outcome"]["recorded_at"]

    read = api.get(f"/api/v1/decisions/{decision['decision_id']}", role="viewer").get_json()
    assert {k: read[k] for k in decision} == decision
    assert read["agent_id"] == "chat-bot" and read["decided_at"]
    assert {k: read["outcome"][k] for k in outcome} == outcome

    assert_problem(api.post(path, outcome, role="router"), 409)
    failure = {"success": False, "latency_ms": 30000, "error_code": "timeout"}
    assert_problem(api.post(path, failure, role="router"), 409)


def test_decision_without_outcome(api, catalog):
    decision = _route(api)
    read = api.get(f"/api/v1/decisions/{decision['decision_id']}").get_json()
    assert read["outcome"] is None


@pytest.mark.parametrize("decision_id", [UNKNOWN_DECISION, "not-a-uuid", str(uuid.uuid4())])
def test_unknown_decision_is_404(shared_api, decision_id):
    assert_problem(shared_api.get(f"/api/v1/decisions/{decision_id}"), 404)
    body = {"success": True, "latency_ms": 1.0}
    assert_problem(
        shared_api.post(f"/api/v1/decisions/{decision_id}/outcome", body, role="router"), 404
    )


@pytest.mark.parametrize(
    "body,field",
    [
        ({"latency_ms": 10}, "success"),
        ({"success": True}, "latency_ms"),
        ({"success": "true", "latency_ms": 10}, "success"),
        ({"success": 1, "latency_ms": 10}, "success"),
        ({"success": True, "latency_ms": -1}, "latency_ms"),
        ({"success": True, "latency_ms": "10"}, "latency_ms"),
        ({"success": True, "latency_ms": 10, "tokens_in": -5}, "tokens_in"),
        ({"success": True, "latency_ms": 10, "tokens_out": 2.5}, "tokens_out"),
        ({"success": False, "latency_ms": 10, "error_code": "x" * 65}, "error_code"),
        ({"success": False, "latency_ms": 10, "error_code": "a\nb"}, "error_code"),
        ({"success": True, "latency_ms": 10, "model_id": "m"}, "model_id"),
    ],
)
def test_outcome_validation(shared_api, body, field):
    path = f"/api/v1/decisions/{UNKNOWN_DECISION}/outcome"
    assert_problem(shared_api.post(path, body, role="router"), 422, field)


def test_batch_answers_each_item(api, catalog):
    first, second = _route(api), _route(api, agent_id="code-reviewer")
    api.post(
        f"/api/v1/decisions/{first['decision_id']}/outcome",
        {"success": True, "latency_ms": 100},
        role="router",
    )
    items = [
        {"decision_id": first["decision_id"], "success": True, "latency_ms": 5},
        {
            "decision_id": second["decision_id"],
            "success": False,
            "latency_ms": 2500,
            "error_code": "http_500",
            "tokens_in": 10,
            "tokens_out": 0,
        },
        {"decision_id": UNKNOWN_DECISION, "success": True, "latency_ms": 5},
    ]
    response = api.post("/api/v1/outcomes:batch", {"items": items}, role="router")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [(i["decision_id"], i["status"]) for i in body["items"]] == [
        (first["decision_id"], 409),
        (second["decision_id"], 201),
        (UNKNOWN_DECISION, 404),
    ]
    assert body["accepted"] == 1 and body["rejected"] == 2
    stored = api.get(f"/api/v1/decisions/{second['decision_id']}").get_json()["outcome"]
    assert stored["success"] is False and stored["error_code"] == "http_500"


@pytest.mark.parametrize(
    "body,field",
    [
        ({"items": []}, "items"),
        ({}, "items"),
        ({"items": [{"decision_id": UNKNOWN_DECISION, "success": True}]}, "items.0.latency_ms"),
        (
            {"items": [{"decision_id": "nope", "success": True, "latency_ms": 1}]},
            "items.0.decision_id",
        ),
        (
            {"items": [{"decision_id": UNKNOWN_DECISION, "success": True, "latency_ms": 1}] * 1001},
            "items",
        ),
    ],
)
def test_batch_validation(shared_api, body, field):
    assert_problem(shared_api.post("/api/v1/outcomes:batch", body, role="router"), 422, field)


def test_outcome_fields_are_the_stores_list():
    """The outcome fields are listed once (store.OUTCOME_FIELDS): the API's request and answer
    models carry exactly them (the answer with its recorded_at)."""
    from app.api.schemas import OutcomeIn, OutcomeOut
    from app.db.store import OUTCOME_FIELDS

    assert tuple(OutcomeIn.model_fields) == OUTCOME_FIELDS
    assert tuple(OutcomeOut.model_fields) == (*OUTCOME_FIELDS, "recorded_at")
