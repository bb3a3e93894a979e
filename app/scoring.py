"""Capability scorer: how well each model fits each agent, and which pairs are allowed at all.

Pure functions on numpy arrays (agents x capabilities, models x capabilities); no database, no
work at import. `build_inputs` turns API-shaped dicts into arrays, `score_matrix` scores every
(agent, model) pair at once, and `explain` breaks one pair down per capability.

Score of a pair, all in [0, 1]:

    match  = sum_c W[a, c] * S[m, c] / sum_c W[a, c]      (NEUTRAL_SCORE if agent weights sum to 0)
    health = (alpha + (1 - alpha) * success_rate) * 1 / (1 + beta * max(0, observed/prior - 1))
    score  = match * health

An agent with no requirements scores every model NEUTRAL_SCORE (0.5) rather than the model's mean
capability: it has no preference, so it must not outbid agents that need a strong model; it fills
whatever capacity is left. Health factors are per model: a NaN success rate or observed latency
(no recent data in V_MODEL_HEALTH) leaves that factor at 1, and a model observed no slower than its
advertised prior latency is never penalised (the factor never rewards, it only discounts).

Hard constraints make a pair infeasible, recorded as a bitmask per pair (REASON_BITS); NaN limits
mean "no limit". Expected latency is the observed latency when health data exist, else the prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

NEUTRAL_SCORE = 0.5
DEFAULT_ALPHA = 0.5
DEFAULT_LATENCY_BETA = 0.5
# Bit per failed hard constraint; dict order is the precedence for the one-word reason.
REASON_BITS = {"inactive": 1, "context": 2, "cost": 4, "latency": 8}
# ScoreInputs arrays by what their rows are; the two matrices also have a capability axis.
PER_AGENT = ("weights", "min_context", "max_latency_ms", "max_cost_per_1k", "priority")
PER_MODEL = (
    "model_scores",
    "context_window",
    "cost_per_1k",
    "prior_latency_ms",
    "active",
    "success_rate",
    "observed_latency_ms",
    "capacity",
)
_BY_CAPABILITY = ("weights", "model_scores")


@dataclass(frozen=True, eq=False)
class ScoreInputs:
    """Everything the scorer needs, as arrays; row i of an agent array belongs to agent_ids[i]."""

    agent_ids: list[str]
    model_ids: list[str]
    capabilities: list[str]
    weights: np.ndarray  # (agents, capabilities), >= 0
    model_scores: np.ndarray  # (models, capabilities), in [0, 1]
    min_context: np.ndarray  # (agents,), NaN = no limit
    max_latency_ms: np.ndarray  # (agents,), NaN = no limit
    max_cost_per_1k: np.ndarray  # (agents,), NaN = no limit
    context_window: np.ndarray  # (models,)
    cost_per_1k: np.ndarray  # (models,)
    prior_latency_ms: np.ndarray  # (models,)
    active: np.ndarray  # (models,) bool
    success_rate: np.ndarray  # (models,), NaN = no health data
    observed_latency_ms: np.ndarray  # (models,), NaN = no health data
    capacity: np.ndarray  # (models,) slots each model offers to the matcher (MAX_CONCURRENCY)
    priority: np.ndarray  # (agents,) higher goes first in the greedy baseline

    def __post_init__(self) -> None:
        for name in PER_AGENT + PER_MODEL:
            rows = len(self.agent_ids if name in PER_AGENT else self.model_ids)
            shape = (rows, len(self.capabilities)) if name in _BY_CAPABILITY else (rows,)
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} has shape {np.shape(getattr(self, name))}, not {shape}")
        if not (self.weights >= 0).all():
            raise ValueError("requirement weights must be >= 0")
        if not ((self.model_scores >= 0) & (self.model_scores <= 1)).all():
            raise ValueError("model capability scores must be in [0, 1]")

    def expected_latency_ms(self) -> np.ndarray:
        """Observed latency where health data exist, else the model's prior latency."""
        observed = self.observed_latency_ms
        return np.where(np.isnan(observed), self.prior_latency_ms, observed)


@dataclass(frozen=True, eq=False)
class ScoreMatrix:
    """Scores of every (agent, model) pair; `reasons` is the REASON_BITS mask, 0 when feasible."""

    agent_ids: list[str]
    model_ids: list[str]
    scores: np.ndarray  # (agents, models) float, health-adjusted, also set for infeasible pairs
    feasible: np.ndarray  # (agents, models) bool
    reasons: np.ndarray  # (agents, models) uint8 bitmask of failed constraints

    def reason(self, agent_index: int, model_index: int) -> str | None:
        """The first failed constraint of a pair ("inactive", "context", ...), None if feasible."""
        failed = reason_codes(int(self.reasons[agent_index, model_index]))
        return failed[0] if failed else None


def build_inputs(
    models: Sequence[Mapping],
    agents: Sequence[Mapping],
    health: Mapping[str, Mapping] | None = None,
) -> ScoreInputs:
    """Arrays from API-shaped model and agent dicts, plus V_MODEL_HEALTH rows keyed by model id.

    Only agents with status "active" are kept (a missing status counts as active); every model is
    kept, and a model whose status is not "active" is infeasible for everyone, so explanations can
    say why. A capability a model does not list scores 0; None limits mean no limit. Health rows
    with no requests, or missing models, count as no data.
    """
    agents = [a for a in agents if a.get("status", "active") == "active"]
    capabilities = sorted(
        {c for m in models for c in m.get("capabilities", {})}
        | {c for a in agents for c in a.get("requirements", {})}
    )
    health = health or {}
    rows = [health.get(m["id"]) or {} for m in models]
    rows = [row if (row.get("requests") or 0) > 0 else {} for row in rows]
    return ScoreInputs(
        agent_ids=[a["id"] for a in agents],
        model_ids=[m["id"] for m in models],
        capabilities=capabilities,
        weights=_table(agents, "requirements", capabilities),
        model_scores=_table(models, "capabilities", capabilities),
        min_context=_column(agents, "min_context"),
        max_latency_ms=_column(agents, "max_latency_ms"),
        max_cost_per_1k=_column(agents, "max_cost_per_1k"),
        context_window=_column(models, "context_window"),
        cost_per_1k=_column(models, "cost_per_1k_tokens"),
        prior_latency_ms=_column(models, "prior_latency_ms"),
        active=np.array([m.get("status") == "active" for m in models], dtype=bool),
        success_rate=_column(rows, "success_rate"),
        observed_latency_ms=_column(rows, "avg_latency_ms"),
        capacity=np.array([int(m.get("max_concurrency") or 0) for m in models], dtype=np.int64),
        priority=_column(agents, "priority", default=0.0),
    )


def _column(rows: Sequence[Mapping], key: str, default: float = math.nan) -> np.ndarray:
    """A float column; None or a missing key becomes `default` (NaN: no limit / no data)."""
    values = [row.get(key) for row in rows]
    return np.array([default if v is None else float(v) for v in values], dtype=float)


def _table(rows: Sequence[Mapping], key: str, names: list[str]) -> np.ndarray:
    """(rows, names) matrix from each row's {name: value} dict; absent names are 0."""
    index = {name: j for j, name in enumerate(names)}
    out = np.zeros((len(rows), len(names)))
    for i, row in enumerate(rows):
        for name, value in (row.get(key) or {}).items():
            out[i, index[name]] = float(value)
    return out


def reason_codes(mask: int) -> list[str]:
    """Decode a REASON_BITS mask into codes, in precedence order."""
    return [code for code, bit in REASON_BITS.items() if mask & bit]


def weighted_match(weights: np.ndarray, model_scores: np.ndarray) -> np.ndarray:
    """(agents, models) weighted mean of model scores over each agent's requirement weights."""
    totals = weights.sum(axis=1)
    match = np.full((weights.shape[0], model_scores.shape[0]), NEUTRAL_SCORE)
    has = totals > 0
    match[has] = (weights[has] @ model_scores.T) / totals[has, None]
    return match


def health_factors(
    success_rate: np.ndarray,
    observed_latency_ms: np.ndarray,
    prior_latency_ms: np.ndarray,
    *,
    alpha: float = DEFAULT_ALPHA,
    latency_beta: float = DEFAULT_LATENCY_BETA,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-model (success factor, latency factor), each in (0, 1]; NaN inputs give 1.

    alpha is the floor of the success factor (a model that always fails keeps alpha of its
    score, so one bad hour cannot zero a model out); latency_beta is how hard a model observed
    slower than its prior is discounted (twice as slow with beta 0.5 keeps 2/3).
    """
    rate = np.clip(success_rate, 0.0, 1.0)  # NaN stays NaN
    success = np.where(np.isnan(rate), 1.0, alpha + (1.0 - alpha) * rate)
    known = ~np.isnan(observed_latency_ms) & (prior_latency_ms > 0)
    slowdown = np.ones_like(success)
    slowdown[known] = observed_latency_ms[known] / prior_latency_ms[known]
    latency = 1.0 / (1.0 + latency_beta * np.maximum(0.0, slowdown - 1.0))
    return success, latency


def constraint_mask(inputs: ScoreInputs) -> np.ndarray:
    """(agents, models) uint8 REASON_BITS of the hard constraints each pair fails."""
    n_agents, n_models = len(inputs.agent_ids), len(inputs.model_ids)
    mask = np.zeros((n_agents, n_models), dtype=np.uint8)
    with np.errstate(invalid="ignore"):  # comparisons with a NaN limit are False: no limit
        failed = {
            "inactive": np.broadcast_to(~inputs.active.astype(bool), (n_agents, n_models)),
            "context": inputs.context_window[None, :] < inputs.min_context[:, None],
            "cost": inputs.cost_per_1k[None, :] > inputs.max_cost_per_1k[:, None],
            "latency": inputs.expected_latency_ms()[None, :] > inputs.max_latency_ms[:, None],
        }
    for code, bits in failed.items():
        mask[bits] |= REASON_BITS[code]
    return mask


def score_matrix(
    inputs: ScoreInputs,
    *,
    alpha: float = DEFAULT_ALPHA,
    latency_beta: float = DEFAULT_LATENCY_BETA,
) -> ScoreMatrix:
    """Score every (agent, model) pair and mark the ones hard constraints rule out."""
    success, latency = health_factors(
        inputs.success_rate,
        inputs.observed_latency_ms,
        inputs.prior_latency_ms,
        alpha=alpha,
        latency_beta=latency_beta,
    )
    scores = weighted_match(inputs.weights, inputs.model_scores) * (success * latency)[None, :]
    reasons = constraint_mask(inputs)
    return ScoreMatrix(
        agent_ids=inputs.agent_ids,
        model_ids=inputs.model_ids,
        scores=scores,
        feasible=reasons == 0,
        reasons=reasons,
    )


def explain(
    agent_index: int,
    model_index: int,
    inputs: ScoreInputs,
    *,
    alpha: float = DEFAULT_ALPHA,
    latency_beta: float = DEFAULT_LATENCY_BETA,
) -> dict:
    """Break one pair's score down: per-capability contributions, constraints, health, total.

    The contributions sum to "match" (unless the agent has no requirements: "neutral" is then
    true and match is NEUTRAL_SCORE), and total = match * health["factor"] equals the pair's
    entry in score_matrix. Missing values (no limit, no data) are None, so the dict is JSON-safe.
    """
    pair = _one_pair(inputs, agent_index, model_index)
    weights, row = pair.weights[0], pair.model_scores[0]
    total_weight = float(weights.sum())
    capabilities = {
        name: {
            "weight": float(weights[c]),
            "model_score": float(row[c]),
            "contribution": float(weights[c] * row[c] / total_weight),
        }
        for c, name in enumerate(pair.capabilities)
        if weights[c] > 0
    }
    success, latency = health_factors(
        pair.success_rate,
        pair.observed_latency_ms,
        pair.prior_latency_ms,
        alpha=alpha,
        latency_beta=latency_beta,
    )
    scored = score_matrix(pair, alpha=alpha, latency_beta=latency_beta)
    return {
        "agent_id": pair.agent_ids[0],
        "model_id": pair.model_ids[0],
        "capabilities": capabilities,
        "neutral": total_weight == 0,
        "match": float(weighted_match(pair.weights, pair.model_scores)[0, 0]),
        "constraints": _explain_constraints(pair, int(scored.reasons[0, 0])),
        "feasible": bool(scored.feasible[0, 0]),
        "health": {
            "success_rate": _number(pair.success_rate[0]),
            "observed_latency_ms": _number(pair.observed_latency_ms[0]),
            "success_factor": float(success[0]),
            "latency_factor": float(latency[0]),
            "factor": float(success[0] * latency[0]),
        },
        "total": float(scored.scores[0, 0]),
    }


def _explain_constraints(pair: ScoreInputs, mask: int) -> dict:
    failed = reason_codes(mask)
    limits = {
        "inactive": (None, bool(pair.active[0])),
        "context": (pair.min_context[0], pair.context_window[0]),
        "cost": (pair.max_cost_per_1k[0], pair.cost_per_1k[0]),
        "latency": (pair.max_latency_ms[0], pair.expected_latency_ms()[0]),
    }
    return {
        code: {"ok": code not in failed, "limit": _number(limit), "actual": _number(actual)}
        for code, (limit, actual) in limits.items()
    }


def _one_pair(inputs: ScoreInputs, a: int, m: int) -> ScoreInputs:
    """The 1 x 1 sub-problem of one pair, so explain reuses the vectorised rules verbatim."""
    cut = {name: slice(a, a + 1) for name in ("agent_ids", *PER_AGENT)}
    cut |= {name: slice(m, m + 1) for name in ("model_ids", *PER_MODEL)}
    return ScoreInputs(
        **{
            f.name: getattr(inputs, f.name)[cut[f.name]]
            if f.name in cut
            else getattr(inputs, f.name)
            for f in fields(ScoreInputs)
        }
    )


def _number(value: object) -> float | bool | None:
    if value is None or isinstance(value, bool | np.bool_):
        return None if value is None else bool(value)
    value = float(value)
    return None if math.isnan(value) else value
