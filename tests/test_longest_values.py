"""Every string at the longest the API accepts is stored and read back whole, end to end on
SQLite; an auto-assign leaving many agents unplaced is stored whole (HANA held that list in one
NVARCHAR(5000), which about 100 agents overflowed). The column widths of HANA's schema are
checked against the same limits in test_column_widths."""

from __future__ import annotations

import json
import sqlite3

from support import agent_body, model_body

from app.db import store

LONG_ID = "m" + "x" * 127  # Id: 128 characters
LONG_AGENT = "a" + "y" * 127
LONG_TASK = "t" + "z" * 127
LONG_CAPABILITY = "c" + "k" * 63  # CapabilityName: 64
LONG_TEXT = "é😀" * 100  # Text: 200 characters, half of them outside the basic plane
LONG_ENDPOINT = "https://" + "e" * 2040  # Endpoint: 2,048


def test_the_longest_strings_are_stored_and_read_back(api):
    model = model_body(
        LONG_ID,
        display_name=LONG_TEXT,
        provider=LONG_TEXT,
        endpoint=LONG_ENDPOINT,
        capabilities={LONG_CAPABILITY: 0.9},
    )
    assert api.post("/api/v1/models", model).status_code == 201
    agent = agent_body(
        LONG_AGENT,
        display_name=LONG_TEXT,
        task_type=LONG_TASK,
        requirements={LONG_CAPABILITY: 1.0},
        min_context=0,
        max_latency_ms=None,
    )
    assert api.post("/api/v1/agents", agent).status_code == 201
    got = api.get(f"/api/v1/models/{LONG_ID}").get_json()
    assert (got["display_name"], got["provider"], got["endpoint"]) == (
        LONG_TEXT,
        LONG_TEXT,
        LONG_ENDPOINT,
    )
    assert got["capabilities"] == {LONG_CAPABILITY: 0.9}
    got = api.get(f"/api/v1/agents/{LONG_AGENT}").get_json()
    assert (got["display_name"], got["task_type"]) == (LONG_TEXT, LONG_TASK)

    route = api.post(
        "/api/v1/route", {"agent_id": LONG_AGENT, "task_type": LONG_TASK}, role="router"
    )
    assert route.status_code == 200, route.get_json()
    decision_id = route.get_json()["decision_id"]
    error_code = "E" * 64
    outcome = api.post(
        f"/api/v1/decisions/{decision_id}/outcome",
        {"success": False, "latency_ms": 12.5, "error_code": error_code},
        role="router",
    )
    assert outcome.status_code == 201, outcome.get_json()
    decision = api.get(f"/api/v1/decisions/{decision_id}").get_json()
    assert decision["agent_id"] == LONG_AGENT and decision["task_type"] == LONG_TASK
    assert decision["outcome"]["error_code"] == error_code

    key = api.post("/api/v1/keys", {"role": "viewer", "label": LONG_TEXT})
    assert key.status_code == 201 and key.get_json()["label"] == LONG_TEXT
    rule = {
        "rule_id": "r" + "q" * 127,
        "name": LONG_TEXT,
        "metric": "p95_latency_ms",
        "comparator": "gt",
        "threshold": 100.0,
        "window_minutes": 1440,
        "model_id": LONG_ID,
    }
    assert api.put("/api/v1/alert-rules", {"items": [rule]}).status_code == 200
    rules = api.get("/api/v1/alert-rules").get_json()["items"]
    assert [r["name"] for r in rules if r["rule_id"] == rule["rule_id"]] == [LONG_TEXT]


def test_an_auto_assign_with_many_unassigned_agents_is_stored_whole(api, app, config):
    assert api.post("/api/v1/models", model_body("small", context_window=1000)).status_code == 201
    agents = [f"needs-big-context-{i:03d}" for i in range(150)]
    for agent_id in agents:  # no model has the context they need: none can be placed
        body = agent_body(agent_id, min_context=1_000_000)
        assert api.post("/api/v1/agents", body).status_code == 201
    placed = agent_body("placed", min_context=0, max_latency_ms=None)
    assert api.post("/api/v1/agents", placed).status_code == 201

    run = api.post("/api/v1/assignments/auto", {"method": "hungarian"}).get_json()
    assert {u["agent_id"] for u in run["unassigned"]} == set(agents)
    stored = store.get_latest_assignment_run(app.extensions["services"].db)
    assert sorted(u["agent_id"] for u in stored["unassigned"]) == agents
    assert {u["reason"] for u in stored["unassigned"]} == {"no feasible model"}
    with sqlite3.connect(config["sqlite.path"]) as conn:
        rows = conn.execute(
            "SELECT COUNT(*) FROM ASSIGNMENT_RUN_UNASSIGNED WHERE RUN_ID = ?", (run["run_id"],)
        ).fetchone()
        viewed = conn.execute(
            "SELECT COUNT(*) FROM V_UNASSIGNED_AGENTS WHERE RUN_ID = ? AND METHOD = 'hungarian'",
            (run["run_id"],),
        ).fetchone()
        legacy = conn.execute(
            "SELECT UNASSIGNED FROM ASSIGNMENT_RUNS WHERE RUN_ID = ?", (run["run_id"],)
        ).fetchone()
    assert rows == viewed == (150,) and legacy == (None,)  # one row per agent, no JSON list


def test_a_run_made_before_migration_0012_keeps_its_json_list(app, config):
    db = app.extensions["services"].db
    legacy = [{"agent_id": "old-agent", "reason": "capacity exhausted"}]
    with sqlite3.connect(config["sqlite.path"]) as conn:
        conn.execute(
            "INSERT INTO ASSIGNMENT_RUNS (RUN_ID, METHOD, STATUS, UNASSIGNED, CREATED_AT) "
            "VALUES ('run-before-0012', 'hungarian', 'dry_run', ?, '2026-01-01 00:00:00.000000')",
            (json.dumps(legacy),),
        )
    assert store.get_assignment_run(db, "run-before-0012")["unassigned"] == legacy
    runs = store.list_assignment_runs(db, 5)
    assert [r["unassigned"] for r in runs if r["run_id"] == "run-before-0012"] == [legacy]
