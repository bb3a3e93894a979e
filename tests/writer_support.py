"""Helpers of the writer tests (test_writer, test_slow_database): a seeded catalog, rows,
independent reads of the raw tables. Their fixtures live in `writer_fixtures` (loaded with
`pytest_plugins = ["writer_fixtures"]`)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from app.db.store import assignments, catalog
from app.db.store.decisions import decision_row
from app.db.writer import Writer
from app.ids import new_decision_id

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
