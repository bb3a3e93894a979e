"""GET /openapi.json: OpenAPI 3.1 built from the URL map, the operation declarations and the very
pydantic models that validate requests (so the description cannot drift from the code).

Views without an `operation` declaration are described from a small table (the probes) or, for the
dashboard blueprint, as HTML pages behind its session login. A test checks that every route of the
URL map is described and every described operation exists.
"""

from __future__ import annotations

import copy
import re
from importlib import metadata
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from app.api import auth
from app.api.operations import Operation, operation, operation_of
from app.api.schemas import ID_PATTERN, NoQuery, Problem

bp = Blueprint("openapi", __name__)

PROBLEM_TYPE = "application/problem+json"
_ARG = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    302: "Redirect",
    400: "Malformed request (e.g. a body that is not UTF-8 JSON)",
    401: "No key, or a key that is not valid",
    403: "The key's role may not do this",
    404: "Not found",
    408: "The body did not arrive within server.body_timeout_s; the connection is closed",
    409: "Conflict with the current state",
    413: "Body larger than api.max_body_bytes (with Content-Length or chunked)",
    415: "Body is not application/json (exactly: no other +json type)",
    429: "The key or the agent has its quota of requests in flight; retry after Retry-After",
    422: "Validation failed (see errors[])",
    503: "Unavailable; retry after Retry-After seconds",
}
# Views of other modules, described here: (summary, response description).
_EXTERNAL = {
    "health.healthz": ("Liveness probe", {200: "Alive"}),
    "health.readyz": ("Readiness probe: database, migrations", {200: "Ready", 503: "Not ready"}),
}
_SKIPPED_ENDPOINTS = ("static",)


def path_of(rule: Rule) -> str:
    """Flask's `/models/<model_id>` as OpenAPI's `/models/{model_id}`."""
    return _ARG.sub(r"{\1}", rule.rule)


def described_rules(app: Flask) -> list[Rule]:
    """Rules the description covers: everything but static files."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in _SKIPPED_ENDPOINTS and not rule.endpoint.endswith(".static")
    ]


def _operation(rule: Rule, method: str, spec: Operation, schemas: _Schemas) -> dict:
    roles = auth.ACCESS[spec.access]
    item: dict[str, Any] = {
        "operationId": f"{rule.endpoint.replace('.', '_')}",
        "summary": spec.summary,
        "tags": [rule.endpoint.split(".", 1)[0]],
        "x-access": spec.access,
    }
    description = spec.description
    if roles is not None:
        description = (
            description + "\n\n" if description else ""
        ) + f"Roles: {', '.join(sorted(roles))}."
    else:
        item["security"] = []
    if description:
        item["description"] = description
    parameters = _path_parameters(rule, spec) + schemas.query_parameters(spec.query)
    if parameters:
        item["parameters"] = parameters
    if spec.body is not None:
        item["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    item["responses"] = _responses(rule, spec, schemas)
    return item


def _responses(rule: Rule, spec: Operation, schemas: _Schemas) -> dict:
    responses: dict[str, dict] = {}
    if spec.response is None:
        responses[str(spec.status)] = {"description": _STATUS_TEXT.get(spec.status, "OK")}
    elif isinstance(spec.response, str):
        responses[str(spec.status)] = {
            "description": _STATUS_TEXT.get(spec.status, "OK"),
            "content": {
                spec.response: {
                    "schema": {"type": "object" if spec.response.endswith("json") else "string"}
                }
            },
        }
    else:
        responses[str(spec.status)] = {
            "description": _STATUS_TEXT.get(spec.status, "OK"),
            "content": {
                "application/json": {"schema": schemas.ref(spec.response, "serialization")}
            },
        }
    codes = set(spec.errors) | {422}  # unknown query parameters are refused on every operation
    if auth.ACCESS[spec.access] is not None:
        codes |= {401, 403}
    if spec.body is not None:
        codes |= {400, 408, 413, 415}
    if rule.arguments:
        codes.add(404)
    problem = schemas.ref(Problem, "serialization")
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _STATUS_TEXT.get(code, "Error"),
            "content": {PROBLEM_TYPE: {"schema": problem}},
        }
    return responses


def _path_parameters(rule: Rule, spec: Operation) -> list[dict]:
    params = []
    for name in _ARG.findall(rule.rule):
        schema = spec.path_params.get(name) or {
            "type": "string",
            "pattern": ID_PATTERN,
            "maxLength": 128,
        }
        params.append({"name": name, "in": "path", "required": True, "schema": dict(schema)})
    return params


def _undeclared(app: Flask, rule: Rule, method: str) -> dict:
    """Probes from the table above; dashboard views as HTML behind the session login."""
    if rule.endpoint in _EXTERNAL:
        summary, codes = _EXTERNAL[rule.endpoint]
        return {
            "operationId": rule.endpoint.replace(".", "_"),
            "summary": summary,
            "tags": ["health"],
            "security": [],
            "x-access": "open",
            "responses": {
                str(code): {
                    "description": text,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
                for code, text in codes.items()
            },
        }
    view = app.view_functions[rule.endpoint]
    doc = (view.__doc__ or rule.endpoint).strip().splitlines()[0]
    item: dict[str, Any] = {
        "operationId": f"{rule.endpoint.replace('.', '_')}_{method.lower()}",
        "summary": doc,
        "tags": [rule.endpoint.split(".", 1)[0]],
        "x-access": auth.access_of(app, rule.endpoint) or "admin",
        "security": [],
        "responses": _dashboard_responses(rule, method),
    }
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _ARG.findall(rule.rule)
    ]
    if params:
        item["parameters"] = params
    return item


def _dashboard_responses(rule: Rule, method: str) -> dict:
    """Dashboard pages redirect to the login page; its JSON endpoints answer 401 instead;
    its forms refuse a missing or wrong CSRF token (or a role that may not act) with 403."""
    if rule.rule.startswith("/dashboard/api/"):
        return {
            "200": {"description": "OK", "content": {"application/json": {"schema": {}}}},
            "401": {
                "description": "No dashboard session",
                "content": {"application/problem+json": {"schema": {"type": "object"}}},
            },
        }
    responses = {"200": {"description": "OK"}, "302": {"description": "To the login page"}}
    if method == "POST":
        responses["403"] = {"description": "CSRF token missing or wrong, or role not allowed"}
    return responses


class _Schemas:
    """Collects the pydantic models used by the operations into components/schemas."""

    _REF = "#/components/schemas/{model}"

    def __init__(self) -> None:
        self._wanted: list[tuple[type, str]] = []

    def ref(self, model: type, mode: str) -> dict:
        if (model, mode) not in self._wanted:
            self._wanted.append((model, mode))
        return {"$ref": f"__pending__{self._wanted.index((model, mode))}"}

    def query_parameters(self, model: type) -> list[dict]:
        if model is NoQuery:
            return []
        schema = model.model_json_schema(ref_template=self._REF)
        required = set(schema.get("required", ()))
        params = []
        for name, prop in schema.get("properties", {}).items():
            prop = _without_null(prop)
            prop.pop("title", None)
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
        return params

    def definitions(self) -> dict:
        keys, top = models_json_schema(self._wanted, ref_template=self._REF)
        self._refs = [keys[wanted]["$ref"] for wanted in self._wanted]
        return {name: _openapi_schema(schema) for name, schema in top.get("$defs", {}).items()}

    def resolve(self, spec: dict) -> dict:
        """Replace the placeholders of `ref` (known only once all models are collected)."""

        def walk(node):
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("__pending__"):
                    return {"$ref": self._refs[int(ref.removeprefix("__pending__"))]}
                return {key: walk(value) for key, value in node.items()}
            if isinstance(node, list):
                return [walk(value) for value in node]
            return node

        return walk(spec)


def _without_null(prop: dict) -> dict:
    """A query parameter is never JSON null: drop the null branch of `X | None`."""
    prop = copy.deepcopy(prop)
    branches = prop.pop("anyOf", None)
    if branches is not None:
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1:
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def _openapi_schema(node):
    """pydantic's mapping keys as `propertyNames` + `additionalProperties`, which fuzzers and
    validators read the same way the server does (patternProperties would let other keys pass)."""
    if isinstance(node, list):
        return [_openapi_schema(value) for value in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi_schema(value) for key, value in node.items()}
    patterns = node.pop("patternProperties", None)
    if patterns and len(patterns) == 1:
        ((pattern, value),) = patterns.items()
        names = dict(node.get("propertyNames", {}))
        names["pattern"] = pattern
        node["propertyNames"] = names
        node["additionalProperties"] = value
    elif patterns:
        node["patternProperties"] = patterns
    return node


def _version() -> str:
    try:
        return metadata.version("model-router")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def document(app: Flask) -> dict:
    """The description of `app`, built once per app (the URL map does not change after start)."""
    cached = app.extensions.get("openapi")
    if cached is None:
        schemas = _Schemas()
        paths: dict[str, dict] = {}
        for rule in sorted(described_rules(app), key=lambda r: r.rule):
            spec = operation_of(app.view_functions[rule.endpoint])
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                item = (
                    _operation(rule, method, spec, schemas)
                    if spec is not None
                    else _undeclared(app, rule, method)
                )
                paths.setdefault(path_of(rule), {})[method.lower()] = item
        cached = app.extensions["openapi"] = schemas.resolve(
            {
                "openapi": "3.1.0",
                "info": {
                    "title": "Model Router API",
                    "version": _version(),
                    "description": "Decides which LLM model serves each request of each "
                    "agent. Authenticate with `Authorization: Bearer <api "
                    "key>`; roles: admin, router, viewer. Limits on bodies, "
                    "connections and requests in flight, with their settings and "
                    "answers: README, *Abuse and limits*.",
                },
                "servers": [{"url": "/"}],
                "security": [{"bearer": []}],
                "paths": paths,
                "components": {
                    "schemas": schemas.definitions(),
                    "securitySchemes": {
                        "bearer": {
                            "type": "http",
                            "scheme": "bearer",
                            "description": "mr_<key id>_<secret>",
                        }
                    },
                },
            }
        )
    return cached


@bp.get("/openapi.json")
@operation("open", "This description (OpenAPI 3.1)", response="application/json")
def openapi_json():
    return jsonify(document(current_app))
