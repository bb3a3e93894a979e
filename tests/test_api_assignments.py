"""Assignments and scores: POST /assignments/auto, GET /assignments, PUT /assignments/{agent},
GET /scores; and the live figures: GET /load, GET /system/db."""

from __future__ import annotations

import pytest
from support import assert_problem


@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_auto_assign_activates_a_run(api, catalog, method):
    response = api.post("/api/v1/assignments/auto", {"method": method})
    assert response.status_code == 200, response.get_json()
    run = response.get_json()
    assert run["method"] == method and run["dry_run"] is False and run["run_id"]
    assert {a["agent_id"] for a in run["assignments"]} | {
        u["agent_id"] for u in run["unassigned"]
    } == set(catalog["agents"])
    assert all(
        a["model_id"] in catalog["models"] and 0 <= a["score"] <= 1 for a in run["assignments"]
    )
    assert run["total_score"] == pytest.approx(
        sum(a["score"] for a in run["assignments"]), abs=1e-5
    )
    assert run["total_score"] >= run["greedy_total_score"] - 1e-9 or method == "greedy"

    active = api.get("/api/v1/assignments", role="router").get_json()
    assert active["next_cursor"] is None
    assert {(a["agent_id"], a["model_id"]) for a in active["items"]} == {
        (a["agent_id"], a["model_id"]) for a in run["assignments"]
    }


def test_dry_run_changes_nothing(api, catalog):
    run = api.post("/api/v1/assignments/auto", {"method": "hungarian", "dry_run": True})
    assert run.status_code == 200 and run.get_json()["dry_run"] is True
    assert run.get_json()["assignments"]
    assert api.get("/api/v1/assignments").get_json()["items"] == []


def test_defaults_are_hungarian_and_not_dry(api, catalog):
    run = api.post("/api/v1/assignments/auto", {}).get_json()
    assert run["method"] == "hungarian" and run["dry_run"] is False


@pytest.mark.parametrize(
    "body,field",
    [
        ({"method": "random"}, "method"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"dry_run": 1}, "dry_run"),
        ({"method": "greedy", "force": True}, "force"),
    ],
)
def test_auto_assign_validation(shared_api, body, field):
    assert_problem(shared_api.post("/api/v1/assignments/auto", body), 422, field)


def test_pin_is_active_at_once_and_kept_by_auto_assign(api, catalog):
    response = api.put("/api/v1/assignments/chat-bot", {"model_id": "phi-mini"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["model_id"] == "phi-mini"
    active = {a["agent_id"]: a for a in api.get("/api/v1/assignments").get_json()["items"]}
    assert active["chat-bot"]["model_id"] == "phi-mini"
    assert active["chat-bot"]["method"] == "manual"
    run = api.post("/api/v1/assignments/auto", {"method": "hungarian"}).get_json()
    assert {a["agent_id"]: a["model_id"] for a in run["assignments"]}["chat-bot"] == "phi-mini"
    decision = api.post(
        "/api/v1/route", {"agent_id": "chat-bot", "strategy": "assigned"}, role="router"
    ).get_json()
    assert decision["model_id"] == "phi-mini"


def test_pin_errors(api, catalog):
    assert_problem(api.put("/api/v1/assignments/nobody", {"model_id": "phi-mini"}), 404)
    assert_problem(api.put("/api/v1/assignments/chat-bot", {"model_id": "ghost"}), 404)
    api.delete("/api/v1/models/phi-mini")
    assert_problem(api.put("/api/v1/assignments/chat-bot", {"model_id": "phi-mini"}), 409)
    assert_problem(api.put("/api/v1/assignments/bad%20id", {"model_id": "phi-mini"}), 404)
    assert_problem(api.put("/api/v1/assignments/chat-bot", {"model": "phi-mini"}), 422, "model")
    assert_problem(api.put("/api/v1/assignments/chat-bot", {}), 422, "model_id")


def test_assignments_paginate(api, catalog):
    api.post("/api/v1/assignments/auto", {})
    first = api.get("/api/v1/assignments?limit=1").get_json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = api.get(f"/api/v1/assignments?limit=1&cursor={first['next_cursor']}").get_json()
    assert [a["agent_id"] for a in first["items"] + second["items"]] == sorted(catalog["agents"])
    assert second["next_cursor"] is None


def test_scores_matrix(api, catalog):
    body = api.get("/api/v1/scores", role="router").get_json()
    assert sorted(body["agents"]) == sorted(catalog["agents"])
    assert sorted(body["models"]) == sorted(catalog["models"])
    assert len(body["scores"]) == len(body["agents"]) == len(body["feasible"])
    for row, feasible in zip(body["scores"], body["feasible"], strict=True):
        assert len(row) == len(feasible) == len(body["models"])
        assert all(score is None or 0 <= score <= 1 for score in row)
    coder = body["models"].index("coder-7b")
    reviewer = body["agents"].index("code-reviewer")
    assert body["scores"][reviewer][coder] == max(body["scores"][reviewer])


def test_load_shows_in_flight_requests(api, catalog):
    decision = api.post("/api/v1/route", {"agent_id": "chat-bot"}, role="router").get_json()
    body = api.get("/api/v1/load", role="viewer").get_json()
    rows = {row["model_id"]: row for row in body["items"]}
    assert set(rows) == set(catalog["models"])
    assert rows[decision["model_id"]]["in_flight"] == 1
    assert sum(row["in_flight"] for row in rows.values()) == 1
    assert body["cooldowns"] == []
    api.post(
        f"/api/v1/decisions/{decision['decision_id']}/outcome",
        {"success": True, "latency_ms": 10},
        role="router",
    )
    rows = {row["model_id"]: row for row in api.get("/api/v1/load").get_json()["items"]}
    assert rows[decision["model_id"]]["in_flight"] == 0


def test_system_db_figures(api):
    body = api.get("/api/v1/system/db", role="viewer").get_json()
    assert {"pool", "writer"} <= set(body)
    assert body["pool"]["backend"].startswith("sqlite:")


def test_infeasible_pairs_are_valid_json(api, catalog):
    api.post(
        "/api/v1/agents",
        {"id": "huge-context", "requirements": {"chat": 1.0}, "min_context": 10_000_000},
    )
    response = api.get("/api/v1/scores")
    assert "NaN" not in response.get_data(as_text=True)
    body = response.get_json()
    row = body["agents"].index("huge-context")
    assert body["feasible"][row] == [False] * len(body["models"])
    run = api.post("/api/v1/assignments/auto", {}).get_json()
    assert "huge-context" in [u["agent_id"] for u in run["unassigned"]]
    assert "NaN" not in api.post("/api/v1/assignments/auto", {"dry_run": True}).get_data(
        as_text=True
    )
