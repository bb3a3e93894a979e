"""Capability scorer: hand-computed scores, each hard constraint, health, explain, NaN handling."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.scoring import (
    NEUTRAL_SCORE,
    REASON_BITS,
    ScoreInputs,
    build_inputs,
    explain,
    reason_codes,
    score_matrix,
)


def model(**fields) -> dict:
    base = {
        "id": "m1",
        "capabilities": {"coding": 0.8},
        "context_window": 16_000,
        "max_concurrency": 4,
        "cost_per_1k_tokens": 2.0,
        "prior_latency_ms": 800.0,
        "status": "active",
    }
    return {**base, **fields}


def agent(**fields) -> dict:
    base = {
        "id": "a1",
        "task_type": "code",
        "requirements": {"coding": 1.0},
        "min_context": None,
        "max_latency_ms": None,
        "max_cost_per_1k": None,
        "priority": 5,
        "status": "active",
    }
    return {**base, **fields}


def one_pair(agent_fields=None, model_fields=None, health=None):
    inputs = build_inputs([model(**(model_fields or {}))], [agent(**(agent_fields or {}))], health)
    return inputs, score_matrix(inputs)


@pytest.mark.parametrize(
    ("requirements", "capabilities", "expected"),
    [
        ({"coding": 1.0}, {"coding": 0.8}, 0.8),
        ({"coding": 2.0, "writing": 1.0}, {"coding": 0.9, "writing": 0.3}, (1.8 + 0.3) / 3),
        ({"coding": 1.0, "vision": 1.0}, {"coding": 0.6}, 0.3),  # unlisted capability scores 0
        ({"coding": 0.5, "math": 0.5}, {"coding": 1.0, "math": 1.0}, 1.0),
        ({}, {"coding": 0.9}, NEUTRAL_SCORE),  # no requirements: neutral, not the model mean
        ({"coding": 0.0}, {"coding": 0.9}, NEUTRAL_SCORE),
    ],
)
def test_weighted_match(requirements, capabilities, expected):
    _, matrix = one_pair({"requirements": requirements}, {"capabilities": capabilities})
    assert matrix.scores[0, 0] == pytest.approx(expected)
    assert matrix.feasible[0, 0]


@pytest.mark.parametrize(
    ("agent_fields", "model_fields", "health", "expected"),
    [
        ({"min_context": 32_000}, {"context_window": 16_000}, None, "context"),
        ({"min_context": 16_000}, {"context_window": 16_000}, None, None),
        ({"max_cost_per_1k": 1.0}, {"cost_per_1k_tokens": 2.0}, None, "cost"),
        ({"max_cost_per_1k": 2.0}, {"cost_per_1k_tokens": 2.0}, None, None),
        ({"max_latency_ms": 500}, {"prior_latency_ms": 800}, None, "latency"),
        ({"max_latency_ms": 800}, {"prior_latency_ms": 800}, None, None),
        # Expected latency is the observed one when health data exist, in either direction.
        (
            {"max_latency_ms": 500},
            {"prior_latency_ms": 800},
            {"success_rate": 1.0, "avg_latency_ms": 400, "requests": 10},
            None,
        ),
        (
            {"max_latency_ms": 1000},
            {"prior_latency_ms": 800},
            {"success_rate": 1.0, "avg_latency_ms": 1200, "requests": 10},
            "latency",
        ),
        (
            {"max_latency_ms": 500},
            {"prior_latency_ms": 800},
            {"success_rate": 1.0, "avg_latency_ms": 400, "requests": 0},
            "latency",
        ),
        ({}, {"status": "draining"}, None, "inactive"),
        ({}, {"status": "disabled"}, None, "inactive"),
        ({"min_context": None, "max_latency_ms": None, "max_cost_per_1k": None}, {}, None, None),
    ],
)
def test_hard_constraints(agent_fields, model_fields, health, expected):
    _, matrix = one_pair(agent_fields, model_fields, {"m1": health} if health else None)
    assert matrix.reason(0, 0) == expected
    assert bool(matrix.feasible[0, 0]) == (expected is None)


def test_every_failed_constraint_is_recorded_and_the_first_is_the_reason():
    _, matrix = one_pair(
        {"min_context": 64_000, "max_cost_per_1k": 0.5},
        {"status": "disabled", "context_window": 8_000, "cost_per_1k_tokens": 3.0},
    )
    assert reason_codes(int(matrix.reasons[0, 0])) == ["inactive", "context", "cost"]
    assert matrix.reason(0, 0) == "inactive"
    assert set(REASON_BITS) == {"inactive", "context", "cost", "latency"}


@pytest.mark.parametrize(
    ("health", "factor"),
    [
        (None, 1.0),
        ({"success_rate": 0.8, "avg_latency_ms": None, "requests": 50}, 0.5 + 0.5 * 0.8),
        ({"success_rate": 0.0, "avg_latency_ms": None, "requests": 50}, 0.5),
        ({"success_rate": None, "avg_latency_ms": 1600, "requests": 50}, 1 / (1 + 0.5 * 1.0)),
        ({"success_rate": None, "avg_latency_ms": 400, "requests": 50}, 1.0),  # faster: no bonus
        ({"success_rate": 0.8, "avg_latency_ms": 1600, "requests": 50}, 0.9 * 2 / 3),
        ({"success_rate": 0.0, "avg_latency_ms": 9999, "requests": 0}, 1.0),  # no requests
    ],
)
def test_health_adjustment(health, factor):
    _, plain = one_pair()
    _, adjusted = one_pair(health={"m1": health} if health else None)
    assert adjusted.scores[0, 0] == pytest.approx(plain.scores[0, 0] * factor)


def test_health_weights_are_parameters():
    inputs, _ = one_pair(
        health={"m1": {"success_rate": 0.0, "avg_latency_ms": 2400, "requests": 5}}
    )
    matrix = score_matrix(inputs, alpha=0.2, latency_beta=1.0)
    assert matrix.scores[0, 0] == pytest.approx(0.8 * 0.2 * (1 / 3))


def test_explain_breaks_a_score_down_per_capability():
    inputs, matrix = one_pair(
        {"requirements": {"coding": 2.0, "writing": 1.0}, "max_cost_per_1k": 1.0},
        {"capabilities": {"coding": 0.9, "writing": 0.3, "vision": 0.7}},
        {"m1": {"success_rate": 0.8, "avg_latency_ms": None, "requests": 9}},
    )
    report = explain(0, 0, inputs)
    assert report["capabilities"] == {
        "coding": {"weight": 2.0, "model_score": 0.9, "contribution": pytest.approx(0.6)},
        "writing": {"weight": 1.0, "model_score": 0.3, "contribution": pytest.approx(0.1)},
    }
    assert report["match"] == pytest.approx(0.7)
    assert report["health"]["factor"] == pytest.approx(0.9)
    assert report["total"] == pytest.approx(0.63) == matrix.scores[0, 0]
    assert report["feasible"] is False
    assert report["constraints"]["cost"] == {"ok": False, "limit": 1.0, "actual": 2.0}
    assert report["constraints"]["context"] == {"ok": True, "limit": None, "actual": 16_000.0}


def random_catalog(rng: np.random.Generator, n_agents: int, n_models: int):
    names = ["coding", "math", "writing", "vision"]
    models = [
        model(
            id=f"m{i}",
            capabilities={c: float(rng.random()) for c in names if rng.random() > 0.2},
            context_window=int(rng.choice([8_000, 32_000])),
            prior_latency_ms=float(rng.random() * 2000),
            status=str(rng.choice(["active", "active", "draining"])),
        )
        for i in range(n_models)
    ]
    agents = [
        agent(
            id=f"a{i}",
            requirements={c: float(rng.random()) for c in names if rng.random() > 0.5},
            min_context=rng.choice([None, 16_000]),
            max_latency_ms=rng.choice([None, 1000.0]),
        )
        for i in range(n_agents)
    ]
    health = {"m0": {"success_rate": 0.7, "avg_latency_ms": 3000.0, "requests": 4}}
    return build_inputs(models, agents, health)


def test_explain_agrees_with_the_matrix_for_every_pair():
    inputs = random_catalog(np.random.default_rng(7), 12, 6)
    matrix = score_matrix(inputs)
    for a in range(len(inputs.agent_ids)):
        for m in range(len(inputs.model_ids)):
            report = explain(a, m, inputs)
            parts = sum(c["contribution"] for c in report["capabilities"].values())
            match = NEUTRAL_SCORE if report["neutral"] else parts
            assert report["match"] == pytest.approx(match)
            assert match * report["health"]["factor"] == pytest.approx(matrix.scores[a, m])
            assert report["total"] == pytest.approx(matrix.scores[a, m])
            assert report["feasible"] == matrix.feasible[a, m]
            failed = [code for code, c in report["constraints"].items() if not c["ok"]]
            assert failed == reason_codes(int(matrix.reasons[a, m]))


def test_nan_limits_and_missing_health_raise_no_warnings_and_stay_finite():
    inputs = random_catalog(np.random.default_rng(3), 30, 8)
    assert np.isnan(inputs.max_cost_per_1k).all() and np.isnan(inputs.success_rate[1:]).all()
    matrix = score_matrix(inputs)  # filterwarnings=error turns any RuntimeWarning into a failure
    assert np.isfinite(matrix.scores).all()
    assert ((matrix.scores >= 0) & (matrix.scores <= 1)).all()


def test_build_inputs_keeps_active_agents_only_and_all_models():
    inputs = build_inputs(
        [model(id="m1"), model(id="m2", status="disabled", max_concurrency=None)],
        [agent(id="a1"), agent(id="a2", status="paused"), agent(id="a3", priority=None)],
    )
    assert inputs.agent_ids == ["a1", "a3"]
    assert inputs.model_ids == ["m1", "m2"]
    assert inputs.active.tolist() == [True, False]
    assert inputs.capacity.tolist() == [4, 0]
    assert inputs.priority.tolist() == [5.0, 0.0]
    assert inputs.capabilities == ["coding"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": -np.ones((1, 1))}, "weights must be >= 0"),
        ({"model_scores": np.full((1, 1), 1.5)}, r"in \[0, 1\]"),
        ({"min_context": np.zeros(2)}, "min_context has shape"),
        ({"capacity": np.zeros(3)}, "capacity has shape"),
    ],
)
def test_inconsistent_inputs_are_refused(change, message):
    inputs, _ = one_pair()
    fields = {name: getattr(inputs, name) for name in inputs.__dataclass_fields__}
    with pytest.raises(ValueError, match=message):
        ScoreInputs(**{**fields, **change})


def test_expected_latency_prefers_observed():
    inputs, _ = one_pair(
        health={"m1": {"success_rate": None, "avg_latency_ms": 123.0, "requests": 3}}
    )
    assert inputs.expected_latency_ms().tolist() == [123.0]
    assert math.isnan(inputs.success_rate[0])
