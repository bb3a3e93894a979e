"""Agent-to-model assignment: optimal (Hungarian, scipy) and a greedy baseline.

Pure functions on arrays: `scores` and `feasible` are (agents, models), `capacity` is (models,).
Each model offers `capacity[m]` slots; slot k (0-based) of a model is worth score * slot_decay**k,
so a second agent on a model is worth a little less than a first one and load spreads.

The objective both methods are judged by (and the property tests check against brute force):
first place as many agents as possible, then maximise the slot-weighted value, where each model's
agents fill its slots in descending score order (pinned agents first). An agent left out when a
model could have taken it would be a worse router than one with a slightly lower total, hence
placement first. `total_score` reports the plain sum of the chosen pairs' scores, `objective` the
slot-weighted value. Priority only orders the greedy baseline: the optimal method weighs all
agents at once, so order cannot change its answer.

Pins {agent: model} are honoured before anything else and take their model's first slots, even
when the pair is infeasible or the pins exceed the model's capacity; such pins are reported in
`pin_flags` rather than refused, because a manual pin is an operator's explicit decision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

NO_FEASIBLE = "no feasible model"
CAPACITY_EXHAUSTED = "capacity exhausted"
PIN_INFEASIBLE = "pinned to an infeasible model"
PIN_OVER_CAPACITY = "pin exceeds model capacity"


@dataclass(frozen=True)
class AssignmentResult:
    """Agents and models by index; every agent is in exactly one of pairs and unassigned."""

    pairs: list[tuple[int, int, float]]  # (agent, model, raw score), by agent index
    unassigned: list[tuple[int, str]]  # (agent, NO_FEASIBLE | CAPACITY_EXHAUSTED)
    total_score: float  # sum of the raw scores of pairs
    objective: float  # slot-weighted value of pairs (see module docstring)
    method: str  # "hungarian" or "greedy"
    pin_flags: list[tuple[int, str]]  # pins honoured against the rules: PIN_INFEASIBLE, ...


@dataclass(frozen=True)
class Comparison:
    hungarian: AssignmentResult
    greedy: AssignmentResult
    improvement_pct: float  # on total_score; 0 when the greedy total is 0
    objective_improvement_pct: float  # on the slot-weighted objective


@dataclass(frozen=True, eq=False)
class _Problem:
    """Validated inputs with pins already applied."""

    scores: np.ndarray
    feasible: np.ndarray
    capacity: np.ndarray
    slot_decay: float
    pins: dict[int, int]
    pin_flags: list[tuple[int, str]]
    free: np.ndarray  # capacity left per model after the pins, >= 0

    def unpinned(self) -> np.ndarray:
        pinned = np.zeros(self.scores.shape[0], dtype=bool)
        pinned[list(self.pins)] = True
        return np.flatnonzero(~pinned)


def assign(
    scores: np.ndarray,
    feasible: np.ndarray,
    capacity: np.ndarray,
    *,
    pins: Mapping[int, int] | None = None,
    priority: np.ndarray | None = None,
    slot_decay: float = 0.9,
    method: str = "hungarian",
) -> AssignmentResult:
    """Assign each agent at most one model, optimally ("hungarian") or by the greedy baseline.

    Raises ValueError for inconsistent shapes, negative or non-finite scores, a slot_decay
    outside (0, 1], pins out of range, or an unknown method.
    """
    if method == "greedy":
        return greedy(scores, feasible, capacity, priority, pins=pins, slot_decay=slot_decay)
    if method != "hungarian":
        raise ValueError(f"unknown assignment method {method!r}")
    problem = _prepare(scores, feasible, capacity, pins, slot_decay)
    agents = problem.unpinned()
    placeable = (problem.feasible[agents] & (problem.free > 0)).any(axis=1)
    chosen = _solve(problem, agents[placeable])
    return _result(problem, chosen, "hungarian")


def greedy(
    scores: np.ndarray,
    feasible: np.ndarray,
    capacity: np.ndarray,
    priority: np.ndarray | None = None,
    *,
    pins: Mapping[int, int] | None = None,
    slot_decay: float = 0.9,
) -> AssignmentResult:
    """Baseline: agents by priority (higher first, ties by index) each take the open feasible
    model whose next slot is worth the most to them."""
    problem = _prepare(scores, feasible, capacity, pins, slot_decay)
    agents = problem.unpinned()
    if priority is not None:
        priority = np.asarray(priority, dtype=float)
        agents = agents[np.lexsort((agents, -priority[agents]))]
    used = problem.capacity - problem.free
    chosen = {}
    for a in agents:
        open_ = problem.feasible[a] & (used < problem.capacity)
        if open_.any():
            value = np.where(open_, problem.scores[a] * slot_decay**used, -1.0)
            m = int(np.argmax(value))
            chosen[int(a)] = m
            used[m] += 1
    return _result(problem, chosen, "greedy")


def compare(
    scores: np.ndarray,
    feasible: np.ndarray,
    capacity: np.ndarray,
    *,
    pins: Mapping[int, int] | None = None,
    priority: np.ndarray | None = None,
    slot_decay: float = 0.9,
) -> Comparison:
    """Both methods on one instance, and how much the optimal one gains over the baseline."""
    best = assign(scores, feasible, capacity, pins=pins, slot_decay=slot_decay)
    base = greedy(scores, feasible, capacity, priority, pins=pins, slot_decay=slot_decay)
    return Comparison(
        hungarian=best,
        greedy=base,
        improvement_pct=_gain_pct(best.total_score, base.total_score),
        objective_improvement_pct=_gain_pct(best.objective, base.objective),
    )


def _gain_pct(new: float, old: float) -> float:
    return 0.0 if old == 0 else (new - old) / old * 100.0


def _prepare(scores, feasible, capacity, pins, slot_decay) -> _Problem:
    scores = np.asarray(scores, dtype=float)
    feasible = np.asarray(feasible, dtype=bool)
    capacity = np.asarray(capacity).astype(np.int64)
    if scores.ndim != 2 or feasible.shape != scores.shape or capacity.shape != scores.shape[1:]:
        raise ValueError("scores and feasible must be (agents, models), capacity (models,)")
    if not np.isfinite(scores).all() or (scores < 0).any() or (capacity < 0).any():
        raise ValueError("scores must be finite and >= 0, capacity >= 0")
    if not 0 < slot_decay <= 1:
        raise ValueError("slot_decay must be in (0, 1]")
    pins = {int(a): int(m) for a, m in (pins or {}).items()}
    n_agents, n_models = scores.shape
    if any(not (0 <= a < n_agents and 0 <= m < n_models) for a, m in pins.items()):
        raise ValueError("pins must map agent indices to model indices in range")
    taken = np.bincount(np.array(list(pins.values()), dtype=np.int64), minlength=n_models)
    flags = [(a, PIN_INFEASIBLE) for a, m in pins.items() if not feasible[a, m]]
    flags += [(a, PIN_OVER_CAPACITY) for a, m in pins.items() if taken[m] > capacity[m]]
    return _Problem(
        scores=scores,
        feasible=feasible,
        capacity=capacity,
        slot_decay=slot_decay,
        pins=pins,
        pin_flags=sorted(flags),
        free=np.maximum(capacity - taken, 0),
    )


def _solve(problem: _Problem, agents: np.ndarray) -> dict[int, int]:
    """Optimal {agent: model} for `agents` (each with at least one open feasible model).

    Columns are (model, slot) pairs; pinned agents hold a model's first slots, so the free slots
    of model m start at position taken[m]. Offering every slot of every model can be far more
    columns than any optimum fills (capacity 1,000 x 500 models for 5,000 agents), so each model
    first offers only the slots it is likely to fill (`_initial_limit`), and models whose offered
    slots all fill up offer twice as many in another solve. This stays exact: slot k of a model
    costs no less than slot j < k for every agent, so when a reduced optimum leaves an offered
    slot of a model empty, no slot beyond it can improve on that optimum (an improving
    alternating path would end at the missing slot, and the empty one would do at no more cost).
    """
    if agents.size == 0:
        return {}
    # Fewest options first: the solver augments row by row and this order halves its time on
    # clustered catalogs; it does not change the optimum.
    feasible = problem.feasible[agents]
    order = np.argsort(feasible[:, problem.free > 0].sum(axis=1), kind="stable")
    agents, feasible = agents[order], feasible[order]
    scores = problem.scores[agents]
    upper = np.minimum(problem.free, feasible.sum(axis=0))  # more could never be filled
    limit = _initial_limit(scores, feasible, upper)
    taken = problem.capacity - problem.free
    # Any feasible placement outweighs every difference in value: values <= max score.
    big = (agents.size + 1) * (scores.max() + 1.0)
    while True:
        model = np.repeat(np.arange(limit.size), limit)
        slot = np.arange(model.size) - np.repeat(np.cumsum(limit) - limit, limit) + taken[model]
        cost = scores[:, model]  # a fresh array: scale it in place, one agents x slots buffer
        cost *= -(problem.slot_decay**slot)
        cost[~feasible[:, model]] = big
        rows, cols = linear_sum_assignment(cost)
        filled = np.bincount(model[cols], minlength=limit.size)
        grow = (filled == limit) & (limit < upper)
        if not grow.any():
            break
        limit[grow] = np.minimum(upper[grow], 2 * limit[grow])
    ok = cost[rows, cols] < big
    return {int(agents[r]): int(model[c]) for r, c in zip(rows[ok], cols[ok], strict=True)}


def _initial_limit(scores: np.ndarray, feasible: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Slots per model for the first solve: twice a fair share of the agents, or as many agents
    as rank the model first if that is more; never more than `upper`."""
    share = math.ceil(scores.shape[0] / max(1, np.count_nonzero(upper)))
    open_scores = np.where(feasible & (upper > 0), scores, -1.0)
    demand = np.bincount(open_scores.argmax(axis=1), minlength=upper.size)
    return np.minimum(upper, np.maximum(2 * share, demand))


def _result(problem: _Problem, chosen: dict[int, int], method: str) -> AssignmentResult:
    """Pins plus chosen pairs, every other agent with its reason, totals and the objective."""
    placed = {**problem.pins, **chosen}
    pairs = [(a, m, float(problem.scores[a, m])) for a, m in sorted(placed.items())]
    unassigned = [
        (a, CAPACITY_EXHAUSTED if problem.feasible[a].any() else NO_FEASIBLE)
        for a in range(problem.scores.shape[0])
        if a not in placed
    ]
    return AssignmentResult(
        pairs=pairs,
        unassigned=unassigned,
        total_score=float(sum(score for _, _, score in pairs)),
        objective=slot_objective(pairs, problem.pins, problem.slot_decay),
        method=method,
        pin_flags=problem.pin_flags,
    )


def slot_objective(
    pairs: list[tuple[int, int, float]], pins: Mapping[int, int], slot_decay: float
) -> float:
    """Slot-weighted value of a placement: per model, pinned agents take the first slots, the
    rest follow in descending score, slot k counting score * slot_decay**k."""
    by_model: dict[int, list[tuple[bool, float]]] = {}
    for a, m, score in pairs:
        by_model.setdefault(m, []).append((a not in pins, -score))
    total = 0.0
    for entries in by_model.values():
        for k, (_, neg_score) in enumerate(sorted(entries)):
            total -= neg_score * slot_decay**k
    return total
