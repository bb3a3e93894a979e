"""Helpers shared by the tests: request bodies, a client that sends a role's key, problem
checks, a clock to step by hand. The fixtures are conftest's; this module holds no fixture."""

from __future__ import annotations

ROLES = ("admin", "router", "viewer")
PROBLEM = "application/problem+json"


def model_body(model_id: str = "llama-8b", **overrides) -> dict:
    body = {
        "id": model_id,
        "display_name": "Llama 3.1 8B",
        "provider": "ollama",
        "endpoint": "http://127.0.0.1:11434/v1",
        "capabilities": {"coding": 0.6, "chat": 0.8, "summarization": 0.75},
        "context_window": 131072,
        "max_concurrency": 4,
        "cost_per_1k_tokens": 0.02,
        "prior_latency_ms": 900.0,
        "status": "active",
    }
    body.update(overrides)
    return body


def agent_body(agent_id: str = "chat-bot", **overrides) -> dict:
    body = {
        "id": agent_id,
        "display_name": "Chat assistant",
        "task_type": "chat",
        "requirements": {"chat": 1.0, "summarization": 0.3},
        "min_context": 4096,
        "max_latency_ms": 5000.0,
        "max_cost_per_1k": None,
        "priority": 5,
        "status": "active",
    }
    body.update(overrides)
    return body


CATALOG_MODELS = (
    model_body("llama-8b"),
    model_body(
        "coder-7b",
        display_name="Qwen2.5-Coder 7B",
        capabilities={"coding": 0.9, "chat": 0.6, "sql": 0.8},
        context_window=32768,
    ),
    model_body(
        "phi-mini",
        display_name="Phi-3 mini",
        capabilities={"coding": 0.5, "chat": 0.65, "summarization": 0.7},
        max_concurrency=8,
        prior_latency_ms=450.0,
    ),
)
CATALOG_AGENTS = (
    agent_body("chat-bot"),
    agent_body(
        "code-reviewer",
        display_name="Code reviewer",
        task_type="coding",
        requirements={"coding": 1.0, "chat": 0.2},
    ),
)


class Api:
    """The Flask test client, sending the key of a role (admin unless told; None: no key)."""

    def __init__(self, client, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def headers(self, role: str | None) -> dict:
        return {} if role is None else {"Authorization": f"Bearer {self.keys[role]}"}

    def call(self, method: str, path: str, json=None, role: str | None = "admin", **kwargs):
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, json=json, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def assert_problem(response, status: int, field: str | None = None) -> dict:
    """The response is problem+json with `status`; with `field`, errors[] names it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM, response.mimetype
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        fields = [error["field"] for error in body.get("errors", [])]
        assert field in fields, body
        assert all(error["reason"] for error in body["errors"])
    return body


class FakeClock:
    """A monotonic clock the test moves: `clock()` reads it, `advance(s)` steps it."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
