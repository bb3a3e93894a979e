"""Assignment: optimal against brute force, greedy baseline, pins, reasons, capacity."""

from __future__ import annotations

import itertools
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app import matching
from app.matching import (
    CAPACITY_EXHAUSTED,
    NO_FEASIBLE,
    PIN_INFEASIBLE,
    PIN_OVER_CAPACITY,
    assign,
    compare,
    greedy,
    slot_objective,
)

TOL = 1e-9


@st.composite
def instances(draw, max_capacity=2):
    """Up to 5 agents x 3 models; scores on a coarse grid so that ties happen; some pins."""
    n_agents = draw(st.integers(1, 5))
    n_models = draw(st.integers(1, 3))
    cells = st.lists(st.integers(0, 10), min_size=n_agents * n_models, max_size=n_agents * n_models)
    scores = np.array(draw(cells), dtype=float).reshape(n_agents, n_models) / 10
    feasible = np.array(
        draw(st.lists(st.booleans(), min_size=scores.size, max_size=scores.size))
    ).reshape(scores.shape)
    capacity = np.array(
        draw(st.lists(st.integers(1, max_capacity), min_size=n_models, max_size=n_models))
    )
    pins = draw(
        st.dictionaries(st.integers(0, n_agents - 1), st.integers(0, n_models - 1), max_size=2)
    )
    priority = np.array(draw(st.lists(st.integers(0, 3), min_size=n_agents, max_size=n_agents)))
    decay = draw(st.sampled_from([1.0, 0.9, 0.5]))
    return scores, feasible, capacity, pins, priority, decay


def brute_force(scores, feasible, capacity, pins, decay):
    """Best (agents placed, slot-weighted objective) over every placement of unpinned agents."""
    n_agents, n_models = scores.shape
    free = capacity - np.bincount(list(pins.values()), minlength=n_models)
    others = [a for a in range(n_agents) if a not in pins]
    options = [[None] + [m for m in range(n_models) if feasible[a, m]] for a in others]
    best = (-1, -1.0)
    for choice in itertools.product(*options):
        used = np.bincount([m for m in choice if m is not None], minlength=n_models)
        if (used > np.maximum(free, 0)).any():
            continue
        placed = {**pins, **{a: m for a, m in zip(others, choice, strict=True) if m is not None}}
        pairs = [(a, m, scores[a, m]) for a, m in placed.items()]
        value = (len(pairs), slot_objective(pairs, pins, decay))
        if value[0] > best[0] or (value[0] == best[0] and value[1] > best[1]):
            best = value
    return best


def check_well_formed(result, scores, feasible, capacity, pins):
    """Every agent exactly once; no capacity exceeded and no infeasible pair, except by a pin."""
    placed = [a for a, _, _ in result.pairs]
    assert sorted(placed + [a for a, _ in result.unassigned]) == list(range(scores.shape[0]))
    used = np.bincount([m for _, m, _ in result.pairs], minlength=scores.shape[1])
    pinned_use = np.bincount(list(pins.values()), minlength=scores.shape[1])
    assert (used <= np.maximum(capacity, pinned_use)).all()
    for a, m, score in result.pairs:
        assert feasible[a, m] or pins.get(a) == m
        assert score == scores[a, m]
    for a, reason in result.unassigned:
        assert reason == (CAPACITY_EXHAUSTED if feasible[a].any() else NO_FEASIBLE)
    assert all(pins[a] == m for a, m, _ in result.pairs if a in pins)
    assert result.total_score == pytest.approx(sum(s for _, _, s in result.pairs))


@settings(max_examples=300, deadline=None)
@given(instances())
def test_hungarian_is_optimal_and_never_below_greedy(instance):
    scores, feasible, capacity, pins, priority, decay = instance
    best = assign(scores, feasible, capacity, pins=pins, slot_decay=decay)
    base = greedy(scores, feasible, capacity, priority, pins=pins, slot_decay=decay)
    for result in (best, base):
        check_well_formed(result, scores, feasible, capacity, pins)
    placed, objective = brute_force(scores, feasible, capacity, pins, decay)
    assert len(best.pairs) == placed
    assert best.objective == pytest.approx(objective, abs=TOL)
    # Judged as the optimiser is: agents placed first, then the slot-weighted objective.
    assert len(base.pairs) <= len(best.pairs)
    if len(base.pairs) == len(best.pairs):
        assert base.objective <= best.objective + TOL


@settings(max_examples=200, deadline=None)
@given(instances(max_capacity=5))
def test_offering_slots_a_few_at_a_time_stays_exact(instance):
    """Start every model at one offered slot, so the growing step runs on most instances."""
    scores, feasible, capacity, pins, _, decay = instance
    with mock.patch.object(matching, "_initial_limit", lambda s, f, upper: np.minimum(upper, 1)):
        best = assign(scores, feasible, capacity, pins=pins, slot_decay=decay)
    check_well_formed(best, scores, feasible, capacity, pins)
    placed, objective = brute_force(scores, feasible, capacity, pins, decay)
    assert (len(best.pairs), best.objective) == (placed, pytest.approx(objective, abs=TOL))


@pytest.mark.parametrize(
    ("scores", "feasible", "capacity", "pairs", "unassigned"),
    [
        # More agents than slots: the agent worth least stays out.
        (
            [[0.9], [0.4], [0.7]],
            [[1], [1], [1]],
            [2],
            [(0, 0, 0.9), (2, 0, 0.7)],
            [(1, CAPACITY_EXHAUSTED)],
        ),
        # No feasible model at all, whatever the capacity.
        ([[0.9, 0.8], [0.5, 0.5]], [[1, 1], [0, 0]], [5, 5], [(0, 0, 0.9)], [(1, NO_FEASIBLE)]),
        # Feasible models with no capacity: exhausted, not infeasible.
        ([[0.9, 0.8]], [[1, 0]], [0, 3], [], [(0, CAPACITY_EXHAUSTED)]),
        # Placing both beats the single best pair (0.5 + 0.1 placed two, 0.9 placed one).
        ([[0.9, 0.1], [0.5, 0.0]], [[1, 1], [1, 0]], [1, 1], [(0, 1, 0.1), (1, 0, 0.5)], []),
        # Slot decay spreads load: 0.9 + 0.85 beats 0.9 + 0.9 * 0.9.
        ([[0.9, 0.85], [0.9, 0.85]], [[1, 1], [1, 1]], [2, 2], [(0, 0, 0.9), (1, 1, 0.85)], []),
        ([], [], [], [], []),
    ],
)
def test_assign_examples(scores, feasible, capacity, pairs, unassigned):
    shape = (len(scores), len(capacity))
    result = assign(
        np.reshape(scores, shape),
        np.reshape(feasible, shape).astype(bool),
        np.array(capacity, dtype=int),
    )
    assert result.pairs == pairs
    assert result.unassigned == unassigned
    assert result.method == "hungarian"


def test_without_decay_the_best_model_takes_everyone():
    scores, feasible = np.array([[0.9, 0.85], [0.9, 0.85]]), np.ones((2, 2), dtype=bool)
    result = assign(scores, feasible, [2, 2], slot_decay=1.0)
    assert [m for _, m, _ in result.pairs] == [0, 0]
    assert result.objective == pytest.approx(1.8)


@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_pins_take_their_model_first_and_are_flagged_when_against_the_rules(method):
    scores = np.array([[0.9, 0.2], [0.8, 0.3], [0.7, 0.6], [0.1, 0.1]])
    feasible = np.array([[1, 1], [1, 1], [1, 1], [0, 1]], dtype=bool)
    pins = {3: 0, 2: 0}  # agent 3 cannot use model 0; model 0 has one slot
    result = assign(scores, feasible, np.array([1, 2]), pins=pins, method=method)
    placed = {a: m for a, m, _ in result.pairs}
    assert placed[3] == 0 and placed[2] == 0
    assert set(result.pin_flags) == {
        (2, PIN_OVER_CAPACITY),
        (3, PIN_INFEASIBLE),
        (3, PIN_OVER_CAPACITY),
    }
    assert placed[0] == 1 and placed[1] == 1  # model 0 is full, both others go to model 1
    assert result.unassigned == []
    # Pins take model 0's first slots (0.7 then 0.1 * decay), whatever their scores.
    assert result.objective == pytest.approx(0.7 + 0.1 * 0.9 + 0.3 + 0.2 * 0.9)


def test_pins_shift_the_slots_left_for_others():
    scores, feasible = np.array([[0.5, 0.0], [0.9, 0.6]]), np.ones((2, 2), dtype=bool)
    # With agent 0 pinned to model 0, agent 1 would get slot 1 there (0.81) vs model 1 (0.6).
    result = assign(scores, feasible, [2, 1], pins={0: 0}, slot_decay=0.5)
    assert result.pairs == [(0, 0, 0.5), (1, 1, 0.6)]  # 0.9 * 0.5 = 0.45 < 0.6


def test_greedy_serves_higher_priority_first_then_index():
    scores = np.array([[0.9, 0.8], [0.9, 0.1], [0.9, 0.5]])
    feasible = np.ones((3, 2), dtype=bool)
    result = greedy(scores, feasible, [1, 1], np.array([1, 5, 1]))
    assert result.pairs == [(0, 1, 0.8), (1, 0, 0.9)]
    assert result.unassigned == [(2, CAPACITY_EXHAUSTED)]
    assert result.method == "greedy"
    assert greedy(scores, feasible, [1, 1]).pairs == [(0, 0, 0.9), (1, 1, 0.1)]


@pytest.mark.parametrize(
    ("scores", "capacity", "improvement"),
    [
        # Greedy gives agent 0 model 0 (0.9) and leaves agent 1 with 0.1; optimal swaps.
        ([[0.9, 0.8], [0.9, 0.1]], [1, 1], (0.8 + 0.9 - 1.0) / 1.0 * 100),
        ([[0.0, 0.0]], [1, 1], 0.0),  # greedy total 0: no division
        ([[0.5, 0.4]], [1, 1], 0.0),
    ],
)
def test_compare_reports_the_gain_over_greedy(scores, capacity, improvement):
    scores = np.array(scores)
    result = compare(
        scores, np.ones_like(scores, dtype=bool), capacity, priority=np.arange(len(scores))[::-1]
    )
    assert result.improvement_pct == pytest.approx(improvement)
    assert result.objective_improvement_pct == pytest.approx(improvement)
    assert (result.hungarian.method, result.greedy.method) == ("hungarian", "greedy")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": [[0.5, np.nan]]}, "finite"),
        ({"scores": [[0.5, -0.1]]}, ">= 0"),
        ({"feasible": [[True]]}, "agents, models"),
        ({"capacity": [1]}, "agents, models"),
        ({"capacity": [1, -1]}, "capacity >= 0"),
        ({"slot_decay": 0.0}, "slot_decay"),
        ({"slot_decay": 1.5}, "slot_decay"),
        ({"pins": {0: 2}}, "pins"),
        ({"pins": {1: 0}}, "pins"),
        ({"method": "auction"}, "unknown assignment method"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    args = {"scores": [[0.5, 0.4]], "feasible": [[True, True]], "capacity": [1, 1]} | kwargs
    with pytest.raises(ValueError, match=message):
        assign(
            np.array(args.pop("scores")),
            np.array(args.pop("feasible")),
            np.array(args.pop("capacity")),
            **args,
        )
