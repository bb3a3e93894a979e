"""Alerts and alert rules: list, acknowledge, replace the rule set."""

from __future__ import annotations

import sqlite3

import pytest
from support import assert_problem, model_body

DEFAULT_RULES = [
    "default-error-rate",
    "default-no-traffic",
    "default-p95-latency",
    "default-utilization",
]


def _raise_alert(
    config,
    model_id: str,
    state: str = "open",
    rule: str = "default-error-rate",
    at: str = "2026-01-21 10:00:00.000000",
) -> int:
    """An alert row as SP_EVALUATE_ALERTS would write it (the procedure is tested elsewhere)."""
    with sqlite3.connect(config["sqlite.path"]) as conn:
        cursor = conn.execute(
            "INSERT INTO ALERTS (RULE_ID, MODEL_ID, METRIC, SEVERITY, THRESHOLD, OBSERVED_VALUE,"
            " STATE, RAISED_AT) VALUES (?, ?, 'error_rate', 'critical', 0.05, 0.4, ?, ?)",
            (rule, model_id, state, at),
        )
        return cursor.lastrowid


@pytest.fixture
def model(api):
    assert api.post("/api/v1/models", model_body("m1")).status_code == 201
    return "m1"


def test_rules_list_holds_the_defaults(api):
    body = api.get("/api/v1/alert-rules", role="viewer").get_json()
    assert [rule["rule_id"] for rule in body["items"]] == DEFAULT_RULES
    assert body["next_cursor"] is None
    page = api.get("/api/v1/alert-rules?limit=3").get_json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = api.get(f"/api/v1/alert-rules?cursor={page['next_cursor']}").get_json()
    assert [r["rule_id"] for r in rest["items"]] == DEFAULT_RULES[3:]


def test_put_rules_replaces_the_set(api, model):
    rules = [
        {
            "rule_id": "slow-m1",
            "name": "m1 slow",
            "metric": "p95_latency_ms",
            "comparator": "gt",
            "threshold": 2500,
            "window_minutes": 10,
            "min_samples": 5,
            "severity": "critical",
            "model_id": model,
            "enabled": True,
        },
        {
            "rule_id": "default-error-rate",
            "metric": "error_rate",
            "comparator": "gt",
            "threshold": 0.1,
            "window_minutes": 5,
        },
    ]
    response = api.put("/api/v1/alert-rules", {"items": rules})
    assert response.status_code == 200, response.get_json()
    by_id = {rule["rule_id"]: rule for rule in response.get_json()["items"]}
    assert by_id["slow-m1"]["threshold"] == 2500 and by_id["slow-m1"]["model_id"] == model
    assert by_id["default-error-rate"]["threshold"] == 0.1
    assert by_id["default-error-rate"]["enabled"] is True
    assert by_id["default-utilization"]["enabled"] is False  # left out: disabled, kept
    assert api.get("/api/v1/alert-rules").get_json()["items"] == response.get_json()["items"]


@pytest.mark.parametrize(
    "rule,field",
    [
        ({"metric": "cpu"}, "items.0.metric"),
        ({"comparator": ">"}, "items.0.comparator"),
        ({"window_minutes": 0}, "items.0.window_minutes"),
        ({"window_minutes": 1441}, "items.0.window_minutes"),
        ({"threshold": "high"}, "items.0.threshold"),
        ({"severity": "fatal"}, "items.0.severity"),
        ({"rule_id": "bad id"}, "items.0.rule_id"),
        ({"min_samples": 0}, "items.0.min_samples"),
        ({"enabled": "yes"}, "items.0.enabled"),
        ({"colour": 1}, "items.0.colour"),
    ],
)
def test_put_rules_validation(api, rule, field):
    base = {
        "rule_id": "r1",
        "metric": "error_rate",
        "comparator": "gt",
        "threshold": 0.1,
        "window_minutes": 5,
    }
    assert_problem(api.put("/api/v1/alert-rules", {"items": [{**base, **rule}]}), 422, field)


def test_put_rules_refuses_duplicates_and_unknown_models(api):
    rule = {
        "rule_id": "r1",
        "metric": "error_rate",
        "comparator": "gt",
        "threshold": 0.1,
        "window_minutes": 5,
    }
    assert_problem(api.put("/api/v1/alert-rules", {"items": [rule, rule]}), 422, "items")
    assert_problem(api.put("/api/v1/alert-rules", {"items": [{**rule, "model_id": "ghost"}]}), 422)
    assert [
        r["rule_id"] for r in api.get("/api/v1/alert-rules").get_json()["items"]
    ] == DEFAULT_RULES


def test_alerts_list_ack_and_states(api, config, model):
    first = _raise_alert(config, model, at="2026-01-21 10:00:00.000000")
    second = _raise_alert(
        config, model, rule="default-p95-latency", at="2026-01-21 11:00:00.000000"
    )
    resolved = _raise_alert(config, model, state="resolved", rule="default-utilization")
    body = api.get("/api/v1/alerts", role="viewer").get_json()
    assert [a["id"] for a in body["items"]] == [second, first]  # unresolved, newest first
    assert body["items"][0]["state"] == "open" and body["items"][0]["model_id"] == model

    acked = api.post(f"/api/v1/alerts/{first}/ack")
    assert acked.status_code == 200 and acked.get_json()["state"] == "acknowledged"
    assert acked.get_json()["acked_at"]
    again = api.post(f"/api/v1/alerts/{first}/ack")
    assert again.status_code == 200 and again.get_json()["acked_at"] == acked.get_json()["acked_at"]
    assert_problem(api.post(f"/api/v1/alerts/{resolved}/ack"), 409)
    assert_problem(api.post("/api/v1/alerts/999999/ack"), 404)
    assert_problem(api.post(f"/api/v1/alerts/{2**70}/ack"), 404)
    assert api.post("/api/v1/alerts/abc/ack").status_code == 404

    by_state = {
        state: [a["id"] for a in api.get(f"/api/v1/alerts?state={state}").get_json()["items"]]
        for state in ("open", "acknowledged", "resolved")
    }
    assert by_state == {"open": [second], "acknowledged": [first], "resolved": [resolved]}
    assert_problem(api.get("/api/v1/alerts?state=closed"), 422, "state")


def test_alerts_paginate(api, config, model):
    ids = [
        _raise_alert(config, model, state="resolved", at=f"2026-01-21 10:0{n}:00.000000")
        for n in range(5)
    ]
    seen, cursor = [], None
    while True:
        query = "?state=resolved&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(f"/api/v1/alerts{query}").get_json()
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(ids, reverse=True)
