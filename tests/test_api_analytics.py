"""Analytics over the API, checked against the outcomes the test sent."""

from __future__ import annotations

from collections import defaultdict

import pytest
from support import assert_problem

# (agent, success, latency ms, tokens in, tokens out) per request
TRAFFIC = [
    ("chat-bot", True, 120.0, 300, 80),
    ("chat-bot", True, 180.0, 500, 120),
    ("chat-bot", False, 2400.0, 450, 0),
    ("code-reviewer", True, 900.0, 2000, 400),
    ("code-reviewer", True, 700.0, 1800, 350),
    ("code-reviewer", False, 5000.0, 2200, 0),
    ("chat-bot", True, 150.0, 320, 90),
]


@pytest.fixture
def traffic(api, catalog) -> dict:
    """Route every request of TRAFFIC, report its outcome; the expected figures per model and
    per (agent, model) pair."""
    per_model: dict = defaultdict(lambda: defaultdict(float))
    per_pair: dict = defaultdict(lambda: defaultdict(float))
    for agent, success, latency, tokens_in, tokens_out in TRAFFIC:
        decision = api.post(
            "/api/v1/route", {"agent_id": agent, "prompt_tokens": tokens_in}, role="router"
        ).get_json()
        outcome = {
            "success": success,
            "latency_ms": latency,
            "tokens_in": tokens_in,
            "tokens_out": tokens_out,
        }
        if not success:
            outcome["error_code"] = "timeout"
        response = api.post(
            f"/api/v1/decisions/{decision['decision_id']}/outcome", outcome, role="router"
        )
        assert response.status_code == 201
        for bucket in (per_model[decision["model_id"]], per_pair[(agent, decision["model_id"])]):
            bucket["requests"] += 1
            bucket["successes"] += success
            bucket["failures"] += not success
            bucket["latency"] += latency
            bucket["tokens_in"] += tokens_in
            bucket["tokens_out"] += tokens_out
    return {"models": per_model, "pairs": per_pair}


def _check(item: dict, expected: dict) -> None:
    assert item["requests"] == expected["requests"]
    assert item["successes"] == expected["successes"]
    assert item["failures"] == expected["failures"]
    assert item["tokens_in"] == expected["tokens_in"]
    assert item["tokens_out"] == expected["tokens_out"]
    assert item["success_rate"] == pytest.approx(expected["successes"] / expected["requests"])
    assert item["avg_latency_ms"] == pytest.approx(expected["latency"] / expected["requests"])
    assert item["p50_latency_ms"] <= item["p95_latency_ms"] <= item["p99_latency_ms"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/analytics/routing-stats?hours=24",
        "/api/v1/analytics/routing-stats",
        "/api/v1/analytics/summary-24h",
    ],
)
def test_routing_stats_match_what_was_sent(api, traffic, path):
    body = api.get(path, role="viewer").get_json()
    assert body["hours"] == 24
    items = {item["model_id"]: item for item in body["items"]}
    assert set(items) == set(traffic["models"])
    for model_id, expected in traffic["models"].items():
        _check(items[model_id], expected)


def test_model_performance(api, traffic, catalog):
    for model_id in catalog["models"]:
        response = api.get(f"/api/v1/analytics/models/{model_id}/performance?hours=1")
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["model_id"] == model_id and body["hours"] == 1
        if model_id in traffic["models"]:
            _check(body, traffic["models"][model_id])
        else:
            assert body["requests"] == 0


def test_top_pairs(api, traffic):
    body = api.get("/api/v1/analytics/top-pairs?limit=10", role="viewer").get_json()
    assert body["limit"] == 10
    pairs = {(item["agent_id"], item["model_id"]): item for item in body["items"]}
    assert set(pairs) == set(traffic["pairs"])
    for pair, expected in traffic["pairs"].items():
        _check(pairs[pair], expected)
    ranks = [item["rank"] for item in body["items"]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    requests = [item["requests"] for item in body["items"]]
    assert requests == sorted(requests, reverse=True)
    one = api.get("/api/v1/analytics/top-pairs?limit=1").get_json()["items"]
    assert len(one) == 1 and one[0] == body["items"][0]


def test_decisions_without_outcome_are_not_counted_yet(api, catalog):
    api.post("/api/v1/route", {"agent_id": "chat-bot"}, role="router")
    body = api.get("/api/v1/analytics/routing-stats").get_json()
    assert sum(item["requests"] for item in body["items"]) == 0


def test_unknown_model_performance_is_404(shared_api):
    assert_problem(shared_api.get("/api/v1/analytics/models/ghost/performance"), 404)
    assert_problem(shared_api.get("/api/v1/analytics/models/bad%20id/performance"), 404)


@pytest.mark.parametrize(
    "path,field",
    [
        ("/api/v1/analytics/routing-stats?hours=0", "hours"),
        ("/api/v1/analytics/routing-stats?hours=8761", "hours"),
        ("/api/v1/analytics/routing-stats?hours=day", "hours"),
        ("/api/v1/analytics/routing-stats?hours=1.5", "hours"),
        ("/api/v1/analytics/routing-stats?days=1", "days"),
        ("/api/v1/analytics/summary-24h?hours=1", "hours"),
        ("/api/v1/analytics/top-pairs?limit=0", "limit"),
        ("/api/v1/analytics/top-pairs?limit=101", "limit"),
        ("/api/v1/analytics/models/m1/performance?hours=-2", "hours"),
    ],
)
def test_query_validation(shared_api, path, field):
    assert_problem(shared_api.get(path, role="viewer"), 422, field)
