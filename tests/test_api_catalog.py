"""The catalog resources: /api/v1/models and /api/v1/agents (create, list, read, patch, disable)."""

from __future__ import annotations

import pytest
from support import agent_body, assert_problem, model_body

KINDS = {
    "models": (model_body, "capabilities"),
    "agents": (agent_body, "requirements"),
}


@pytest.fixture
def engine_calls(app, monkeypatch) -> list[str]:
    """Records engine.catalog_changed() calls (the engine's own effect is tested elsewhere)."""
    calls: list[str] = []
    engine = app.extensions["services"].engine
    original = engine.catalog_changed

    def spy(*args, **kwargs):
        calls.append("catalog_changed")
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "catalog_changed", spy)
    return calls


@pytest.mark.parametrize("kind", KINDS)
def test_create_read_list(api, kind, engine_calls):
    make, mapping = KINDS[kind]
    body = make("first")
    response = api.post(f"/api/v1/{kind}", body)
    assert response.status_code == 201, response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/{kind}/first")
    created = response.get_json()
    assert {k: created[k] for k in body} == body
    assert created["created_at"] and created["updated_at"]
    assert engine_calls == ["catalog_changed"]

    assert api.get(f"/api/v1/{kind}/first", role="router").get_json() == created
    listed = api.get(f"/api/v1/{kind}", role="viewer").get_json()
    assert listed == {"items": [created], "next_cursor": None}


@pytest.mark.parametrize("kind", KINDS)
def test_create_twice_is_409(api, kind):
    make, _ = KINDS[kind]
    assert api.post(f"/api/v1/{kind}", make("twice")).status_code == 201
    assert_problem(api.post(f"/api/v1/{kind}", make("twice")), 409)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("item_id", ["missing", "not valid!", "x" * 300])
def test_unknown_id_is_404(shared_api, kind, method, item_id):
    body = {"display_name": "x"} if method == "PATCH" else None
    assert_problem(shared_api.call(method, f"/api/v1/{kind}/{item_id}", body), 404)


@pytest.mark.parametrize("kind", KINDS)
def test_pagination_walks_every_item_once(api, kind):
    make, _ = KINDS[kind]
    ids = [f"item-{n:02d}" for n in range(7)]
    for item_id in reversed(ids):
        assert api.post(f"/api/v1/{kind}", make(item_id)).status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        query = f"?limit=3&cursor={cursor}" if cursor else "?limit=3"
        body = api.get(f"/api/v1/{kind}{query}").get_json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 3


@pytest.mark.parametrize(
    "query,field",
    [
        ("?limit=0", "limit"),
        ("?limit=501", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=not-a-cursor", "cursor"),
        ("?cursor=eyJ2IjoxLCJhIjoxfQ", "cursor"),
        ("?status=paused", "status"),
        ("?colour=red", "colour"),
        ("?limit=1&limit=2", "limit"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_list_query_errors(shared_api, kind, query, field):
    assert_problem(shared_api.get(f"/api/v1/{kind}{query}"), 422, field)


def test_list_filters_by_status(api, catalog):
    api.delete("/api/v1/models/phi-mini")
    active = api.get("/api/v1/models?status=active").get_json()["items"]
    disabled = api.get("/api/v1/models?status=disabled").get_json()["items"]
    assert [m["id"] for m in active] == ["coder-7b", "llama-8b"]
    assert [m["id"] for m in disabled] == ["phi-mini"]


@pytest.mark.parametrize("kind", KINDS)
def test_patch_changes_only_what_is_sent(api, kind, engine_calls):
    make, mapping = KINDS[kind]
    created = api.post(f"/api/v1/{kind}", make("p")).get_json()
    response = api.patch(f"/api/v1/{kind}/p", {"display_name": "Renamed"})
    assert response.status_code == 200, response.get_json()
    patched = response.get_json()
    assert patched["display_name"] == "Renamed"
    unchanged = {k: v for k, v in created.items() if k not in ("display_name", "updated_at")}
    assert {k: patched[k] for k in unchanged} == unchanged
    assert engine_calls == ["catalog_changed", "catalog_changed"]


@pytest.mark.parametrize("kind", KINDS)
def test_patch_merges_the_capability_map(api, kind):
    make, mapping = KINDS[kind]
    api.post(f"/api/v1/{kind}", make("m", **{mapping: {"coding": 0.5, "chat": 0.7}}))
    patched = api.patch(
        f"/api/v1/{kind}/m", {mapping: {"coding": 0.9, "chat": None, "sql": 0.4}}
    ).get_json()
    assert patched[mapping] == {"coding": 0.9, "sql": 0.4}


def test_patch_result_must_stay_valid(api):
    api.post("/api/v1/agents", agent_body("a", requirements={"chat": 1.0}))
    body = assert_problem(
        api.patch("/api/v1/agents/a", {"requirements": {"chat": None}}), 422, "requirements"
    )
    assert api.get("/api/v1/agents/a").get_json()["requirements"] == {"chat": 1.0}, body


@pytest.mark.parametrize(
    "body,field",
    [
        ({"id": "other"}, "id"),
        ({"endpoint": None}, "endpoint"),
        ({"context_window": 0}, "context_window"),
        ({"capabilities": {"coding": 2}}, "capabilities.coding"),
        ({"status": "gone"}, "status"),
        ({"created_at": "2020-01-01"}, "created_at"),
    ],
)
def test_model_patch_errors(api, body, field):
    api.post("/api/v1/models", model_body("m"))
    assert_problem(api.patch("/api/v1/models/m", body), 422, field)


@pytest.mark.parametrize("kind", KINDS)
def test_delete_disables_and_keeps_the_record(api, kind, engine_calls):
    make, _ = KINDS[kind]
    api.post(f"/api/v1/{kind}", make("d"))
    response = api.delete(f"/api/v1/{kind}/d")
    assert response.status_code == 200 and response.get_json()["status"] == "disabled"
    assert api.get(f"/api/v1/{kind}/d").get_json()["status"] == "disabled"
    assert api.delete(f"/api/v1/{kind}/d").status_code == 200  # again: harmless
    assert engine_calls == ["catalog_changed", "catalog_changed"]
    revived = api.patch(f"/api/v1/{kind}/d", {"status": "active"}).get_json()
    assert revived["status"] == "active"


MODEL_ERRORS = [
    ({"capabilities": {"coding": 1.5}}, "capabilities.coding"),
    ({"capabilities": {"coding": -0.1}}, "capabilities.coding"),
    ({"capabilities": {"coding": "0.9"}}, "capabilities.coding"),
    ({"capabilities": {"Not A Name": 0.5}}, "capabilities.Not A Name"),
    ({"capabilities": {f"c{n}": 0.5 for n in range(65)}}, "capabilities"),
    ({"capabilities": ["coding"]}, "capabilities"),
    ({"context_window": "4096"}, "context_window"),
    ({"context_window": 4096.0}, "context_window"),
    ({"context_window": 0}, "context_window"),
    ({"max_concurrency": 0}, "max_concurrency"),
    ({"max_concurrency": True}, "max_concurrency"),
    ({"cost_per_1k_tokens": -1}, "cost_per_1k_tokens"),
    ({"prior_latency_ms": -5}, "prior_latency_ms"),
    ({"id": "has space"}, "id"),
    ({"id": ""}, "id"),
    ({"id": "-leading-dash"}, "id"),
    ({"id": "x" * 129}, "id"),
    ({"id": 7}, "id"),
    ({"endpoint": "ftp://host/v1"}, "endpoint"),
    ({"endpoint": "localhost:11434"}, "endpoint"),
    ({"status": "paused"}, "status"),
    ({"display_name": "line\nbreak"}, "display_name"),
    ({"display_name": "x" * 201}, "display_name"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("change,field", MODEL_ERRORS)
def test_model_validation_errors(shared_api, change, field):
    assert_problem(shared_api.post("/api/v1/models", model_body("m", **change)), 422, field)
    assert shared_api.get("/api/v1/models").get_json()["items"] == []


@pytest.mark.parametrize("missing", ["id", "endpoint", "context_window"])
def test_model_required_fields(shared_api, missing):
    body = model_body("m")
    del body[missing]
    problem = assert_problem(shared_api.post("/api/v1/models", body), 422, missing)
    assert problem["errors"] == [{"field": missing, "reason": "Field required"}]


AGENT_ERRORS = [
    ({"requirements": {}}, "requirements"),
    ({"requirements": {"chat": 0.0}}, "requirements"),
    ({"requirements": {"chat": -1.0}}, "requirements.chat"),
    ({"requirements": {"chat": "high"}}, "requirements.chat"),
    ({"min_context": -1}, "min_context"),
    ({"max_latency_ms": 0}, "max_latency_ms"),
    ({"max_latency_ms": -3}, "max_latency_ms"),
    ({"max_cost_per_1k": -0.5}, "max_cost_per_1k"),
    ({"priority": 1001}, "priority"),
    ({"priority": 1.5}, "priority"),
    ({"status": "draining"}, "status"),
    ({"task_type": "bad type!"}, "task_type"),
    ({"extra": 1}, "extra"),
]


@pytest.mark.parametrize("change,field", AGENT_ERRORS)
def test_agent_validation_errors(shared_api, change, field):
    assert_problem(shared_api.post("/api/v1/agents", agent_body("a", **change)), 422, field)


def test_many_errors_are_reported_together(api):
    body = model_body("m", context_window=0, capabilities={"coding": 3}, colour=1)
    problem = assert_problem(api.post("/api/v1/models", body), 422)
    assert {e["field"] for e in problem["errors"]} == {
        "context_window",
        "capabilities.coding",
        "colour",
    }


def test_defaults_fill_optional_fields(api):
    body = {"id": "minimal", "endpoint": "http://127.0.0.1:8000/v1", "context_window": 8192}
    created = api.post("/api/v1/models", body).get_json()
    assert created["status"] == "active" and created["capabilities"] == {}
    assert created["max_concurrency"] >= 1 and created["cost_per_1k_tokens"] == 0
    agent = api.post("/api/v1/agents", {"id": "min-agent", "requirements": {"chat": 1}}).get_json()
    assert agent["status"] == "active" and agent["min_context"] == 0
    assert agent["max_latency_ms"] is None and agent["task_type"] is None
