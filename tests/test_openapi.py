"""/openapi.json: OpenAPI 3.1, kept true: every route is described, every description is a route."""

from __future__ import annotations

import pytest

from app.api import auth
from app.api.openapi import described_rules, path_of
from app.api.schemas import AgentIn, ModelIn, ModelPatch, OutcomeIn, RouteIn

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/openapi.json")  # open: no key
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_is_openapi_3_1(spec):
    assert spec["openapi"] == "3.1.0"
    assert spec["info"]["title"] and spec["info"]["version"]
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "mr_<key id>_<secret>",
    }


def test_the_description_is_valid_openapi(spec):
    """What client generators and gateways check first; PATCH fields once declared a null
    default their schema refused (13 errors)."""
    from openapi_spec_validator import OpenAPIV31SpecValidator

    errors = [f"{list(e.path)}: {e.message}" for e in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []


def test_a_patch_field_left_out_and_a_null_differ(api, catalog):
    """The schema change is description only: a PATCH without a field keeps it, a null where
    the field takes none is still refused."""
    model = catalog["models"][0]
    kept = api.patch(f"/api/v1/models/{model}", {"max_concurrency": 6}).get_json()
    assert kept["max_concurrency"] == 6 and kept["endpoint"] == "http://127.0.0.1:11434/v1"
    refused = api.patch(f"/api/v1/models/{model}", {"endpoint": None})
    assert refused.status_code == 422


def test_every_route_is_described(app, spec):
    routes = {
        (path_of(rule), method.lower())
        for rule in described_rules(app)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, method, _ in _operations(spec)}
    assert routes - described == set(), "routes missing from /openapi.json"
    assert described - routes == set(), "described operations that are not routes"
    assert any(path.startswith("/api/v1/") for path, _ in routes)


def test_every_described_operation_is_served(app, spec):
    """Each path+method resolves through the URL map to the endpoint its operationId names."""
    adapter = app.url_map.bind("localhost")
    for path, method, operation in _operations(spec):
        concrete = path
        for param in operation.get("parameters", []):
            if param["in"] == "path":
                sample = "1" if param["schema"].get("type") == "integer" else "x1"
                if "pattern" in param["schema"] and "7[0-9a-f]{3}" in param["schema"]["pattern"]:
                    sample = "018f3c2e-7d4a-7b1c-8d2e-123456789abc"
                concrete = concrete.replace("{" + param["name"] + "}", sample)
        endpoint, _ = adapter.match(concrete, method=method.upper())
        assert operation["operationId"].startswith(endpoint.replace(".", "_"))


def test_operation_ids_are_unique(spec):
    ids = [operation["operationId"] for _, _, operation in _operations(spec)]
    assert len(ids) == len(set(ids))


def test_refs_resolve(spec):
    schemas = spec["components"]["schemas"]

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                assert ref.startswith("#/components/schemas/"), ref
                assert ref.rsplit("/", 1)[1] in schemas, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


@pytest.mark.parametrize(
    "path,method,model",
    [
        ("/api/v1/models", "post", ModelIn),
        ("/api/v1/models/{model_id}", "patch", ModelPatch),
        ("/api/v1/agents", "post", AgentIn),
        ("/api/v1/route", "post", RouteIn),
        ("/api/v1/decisions/{decision_id}/outcome", "post", OutcomeIn),
    ],
)
def test_request_bodies_are_the_validating_models(spec, path, method, model):
    body = spec["paths"][path][method]["requestBody"]
    ref = body["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert body["required"] is True
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(model.model_fields)
    assert set(schema.get("required", [])) == {
        name for name, field in model.model_fields.items() if field.is_required()
    }


def test_constraints_reach_the_description(spec):
    model = spec["components"]["schemas"]["ModelIn"]["properties"]
    scores = model["capabilities"]
    assert scores["additionalProperties"] == {"type": "number", "minimum": 0.0, "maximum": 1.0}
    assert scores["propertyNames"]["pattern"] == "^[a-z][a-z0-9_.-]{0,63}$"
    assert model["id"]["pattern"].startswith("^[A-Za-z0-9]")
    route = spec["components"]["schemas"]["RouteIn"]["properties"]
    assert route["strategy"]["anyOf"][0]["enum"] == ["adaptive", "assigned", "least_loaded", "p2c"]


def test_errors_and_security_are_documented(app, spec):
    for path, method, operation in _operations(spec):
        access = operation["x-access"]
        responses = operation["responses"]
        if path.startswith("/api/v1/"):
            assert "422" in responses, (path, method)
            problem = responses["422"]["content"]["application/problem+json"]["schema"]
            assert problem == {"$ref": "#/components/schemas/Problem"}
        if access in ("open", "session"):
            assert operation["security"] == [], (path, method)
        else:
            assert "security" not in operation  # the document's default: bearer
            assert {"401", "403"} <= set(responses), (path, method)
            roles = ", ".join(sorted(auth.ACCESS[access]))
            assert f"Roles: {roles}." in operation["description"]
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), (path, method)


def test_list_queries_are_parameters(spec):
    params = {p["name"]: p for p in spec["paths"]["/api/v1/models"]["get"]["parameters"]}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 50,
    }
    assert params["cursor"]["schema"]["type"] == "string"
    assert params["status"]["schema"]["enum"] == ["active", "draining", "disabled"]
    assert not any(p["required"] for p in params.values())


def test_the_document_is_built_once(app, client):
    first = client.get("/openapi.json").get_json()
    assert app.extensions["openapi"] is not None
    assert client.get("/openapi.json").get_json() == first
