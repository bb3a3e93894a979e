"""Helpers shared by the tests: request bodies, a client that sends a role's key, problem
checks, a clock to step by hand. The fixtures are conftest's; this module holds no fixture."""

from __future__ import annotations

import sqlite3
import time

import pytest

from app.db.store import assignments, catalog
from app.db.store.decisions import decision_row
from app.db.writer import Writer
from app.ids import new_decision_id

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


# -- the writer's tests: a seeded catalog, rows, independent reads of the raw tables ----------

AGENTS = ("a1", "a2", "a3")
FAST = {"replay_interval_s": 0.05, "acquire_timeout_s": 0.3, "ack_timeout_s": 5.0}


# -- fixtures and helpers -------------------------------------------------------------------------


def seed(db) -> dict[str, str]:
    """Two models, three agents, one active assignment per agent: {agent_id: assignment_id}."""
    for model in ("m1", "m2"):
        catalog.create_model(
            db,
            {
                "id": model,
                "endpoint": f"http://{model}",
                "context_window": 8000,
                "max_concurrency": 8,
                "capabilities": {"coding": 0.9},
            },
        )
    for agent in AGENTS:
        catalog.create_agent(
            db, {"id": agent, "task_type": "coding", "requirements": {"coding": 1.0}}
        )
    run = assignments.create_assignment_run(
        db,
        {"method": "manual"},
        [{"agent_id": a, "model_id": "m1" if a != "a3" else "m2"} for a in AGENTS],
    )
    return {a["agent_id"]: a["assignment_id"] for a in run["assignments"]}


def decision(agent: str, assignment_id: str | None, decision_id: str | None = None) -> dict:
    return decision_row(
        {
            "decision_id": decision_id or new_decision_id(),
            "decided_at": "2030-01-02 03:04:05.000000",
            "agent_id": agent,
            "model_id": "m2" if agent == "a3" else "m1",
            "assignment_id": assignment_id,
            "strategy": "assigned",
            "score": 0.9,
            "fallbacks": [{"model_id": "m2"}],
            "reason": "test",
        }
    )


def outcome(decision_id: str, success: bool = True, latency_ms: float = 10.0) -> dict:
    return {
        "decision_id": decision_id,
        "success": success,
        "latency_ms": latency_ms,
        "tokens_in": 3,
        "tokens_out": 4,
        "error_code": None if success else "E",
    }


class Raw:
    """Independent reads of the raw tables."""

    def __init__(self, path: str) -> None:
        self.path = path

    def rows(self, sql: str, params=()) -> list[tuple]:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def one(self, sql: str, params=()):
        return self.rows(sql, params)[0][0]

    def decision_ids(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT DECISION_ID FROM ROUTING_DECISIONS")}

    def outcome_ids(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT DECISION_ID FROM INFERENCE_METRICS")}

    def counters(self) -> dict[str, tuple]:
        """{agent: (requests, successes, failures, latency)} from AGENT_MODEL_ASSIGNMENTS."""
        return {
            r[0]: tuple(r[1:])
            for r in self.rows(
                "SELECT AGENT_ID, TOTAL_REQUESTS, SUCCESS_COUNT, FAILURE_COUNT, TOTAL_LATENCY_MS "
                "FROM AGENT_MODEL_ASSIGNMENTS"
            )
        }

    def assert_applied_exactly_once(self) -> None:
        """Counters and rollups equal what the raw outcome rows say, each counted once."""
        expected = {a: (0, 0, 0, 0.0) for a in AGENTS}
        for agent, n, s, lat in self.rows(
            "SELECT AGENT_ID, COUNT(*), SUM(SUCCESS), SUM(LATENCY_MS) FROM INFERENCE_METRICS "
            "GROUP BY AGENT_ID"
        ):
            expected[agent] = (n, s, n - s, lat)
        got = self.counters()
        for agent in AGENTS:
            assert got[agent][:3] == expected[agent][:3], agent
            assert got[agent][3] == pytest.approx(expected[agent][3])
        total = self.one("SELECT COUNT(*) FROM INFERENCE_METRICS")
        assert self.one("SELECT COALESCE(SUM(OUTCOMES), 0) FROM OUTCOME_BATCHES") == total
        assert self.one("SELECT COALESCE(SUM(REQUESTS), 0) FROM MODEL_METRICS_HOURLY") == total
        assert self.one("SELECT COUNT(DISTINCT BATCH_ID) FROM INFERENCE_METRICS") == self.one(
            "SELECT COUNT(*) FROM OUTCOME_BATCHES"
        )


def wait_until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)


def drained(writer: Writer) -> bool:
    stats = writer.stats()
    return stats["mode"] == "database" and stats["spool_depth"] == 0
