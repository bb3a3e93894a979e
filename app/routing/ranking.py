"""Candidate rankings: the feasible models of an agent sorted by capability score.

A ranking is what the cache holds per (agent, task type, prompt size bucket). It is computed on a
cache miss with the capability scorer (`app.scoring`), without health data: live success and
latency enter the route decision separately (app.routing.strategies), so a health refresh does not
have to invalidate rankings. Each `Candidate` carries the few fields the hot path reads, copied
from the catalog once, so the route step touches no dicts of the catalog per candidate.

Task type: a request may name a task type other than the agent's own. When it names a capability
that models declare, that capability is weighted like the agent's strongest requirement (or 1.0),
so e.g. a "summarization" request of a coding agent prefers models good at summarization without
forgetting the agent's other needs. Any other task type ranks like the agent's own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

from app.cache import bucket_min_tokens
from app.routing.catalog import AgentView, Catalog, ModelView
from app.scoring import ScoreInputs, score_matrix

_NAN = float("nan")


class Candidate:
    """One model in a ranking, with the fields the route step reads."""

    __slots__ = (
        "model_id",
        "endpoint",
        "context_window",
        "capacity",
        "capability",
        "prior_latency_ms",
        "rank",
    )

    def __init__(self, model: ModelView, capability: float, rank: int) -> None:
        self.model_id = model.id
        self.endpoint = model.endpoint
        self.context_window = model.context_window
        self.capacity = model.capacity
        self.capability = capability
        self.prior_latency_ms = float(model.prior_latency_ms)
        self.rank = rank

    def __repr__(self) -> str:
        return f"Candidate({self.model_id!r}, capability={self.capability:.3f})"


class Ranking:
    """Candidates of one (agent, task type, bucket), best capability first."""

    __slots__ = ("catalog_version", "candidates", "model_ids", "by_model")

    def __init__(self, catalog_version: int, candidates: tuple[Candidate, ...]) -> None:
        self.catalog_version = catalog_version
        self.candidates = candidates
        self.model_ids = tuple(c.model_id for c in candidates)
        self.by_model = {c.model_id: c for c in candidates}


class _ModelArrays:
    """Model-side scorer inputs of one catalog snapshot, built once per version."""

    def __init__(self, catalog: Catalog) -> None:
        self.version = catalog.version
        self.models: list[ModelView] = list(catalog.models.values())
        self.capabilities = sorted({c for m in self.models for c in m.capabilities})
        col = {c: i for i, c in enumerate(self.capabilities)}
        scores = np.zeros((len(self.models), len(self.capabilities)))
        for i, m in enumerate(self.models):
            for cap, s in m.capabilities.items():
                scores[i, col[cap]] = s
        self.column = col
        self.model_scores = scores
        self.context_window = np.array([m.context_window for m in self.models], dtype=float)
        self.cost = np.array([m.cost for m in self.models], dtype=float)
        self.prior_latency = np.array([m.prior_latency_ms for m in self.models], dtype=float)
        self.active = np.array([m.active for m in self.models], dtype=bool)
        self.capacity = np.array([m.capacity for m in self.models], dtype=float)


def requirements_for(agent: AgentView, task_type: str | None, known: Mapping[str, int]) -> dict:
    """The agent's requirement weights, with the request's task type emphasised (module doc)."""
    weights = dict(agent.requirements)
    if task_type is not None and task_type != agent.task_type and task_type in known:
        weights[task_type] = max(weights.values(), default=1.0) or 1.0
    return weights


class Ranker:
    """Computes rankings; keeps the model arrays of the latest catalog version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrays: _ModelArrays | None = None

    def _model_arrays(self, catalog: Catalog) -> _ModelArrays:
        arrays = self._arrays
        if arrays is None or arrays.version != catalog.version:
            with self._lock:
                arrays = self._arrays
                if arrays is None or arrays.version != catalog.version:
                    arrays = self._arrays = _ModelArrays(catalog)
        return arrays

    def rank(
        self, catalog: Catalog, agent: AgentView, task_type: str | None, bucket: int
    ) -> Ranking:
        """Feasible models for the agent whose context can hold a prompt of this size bucket."""
        arrays = self._model_arrays(catalog)
        if not arrays.models:
            return Ranking(catalog.version, ())
        weights = requirements_for(agent, task_type, arrays.column)
        extra = sorted(set(weights) - set(arrays.column))  # required, but no model declares it
        capabilities = arrays.capabilities + extra
        model_scores = arrays.model_scores
        if extra:
            model_scores = np.hstack([model_scores, np.zeros((len(arrays.models), len(extra)))])
        n = len(arrays.models)
        inputs = ScoreInputs(
            agent_ids=[agent.id],
            model_ids=[m.id for m in arrays.models],
            capabilities=capabilities,
            weights=np.array([[float(weights.get(c, 0.0)) for c in capabilities]]),
            model_scores=model_scores,
            min_context=np.array([float(max(agent.min_context, bucket_min_tokens(bucket)))]),
            max_latency_ms=np.array([_limit(agent.max_latency_ms)]),
            max_cost_per_1k=np.array([_limit(agent.max_cost_per_1k)]),
            context_window=arrays.context_window,
            cost_per_1k=arrays.cost,
            prior_latency_ms=arrays.prior_latency,
            active=arrays.active,
            success_rate=np.full(n, _NAN),
            observed_latency_ms=np.full(n, _NAN),
            capacity=arrays.capacity,
            priority=np.array([float(agent.priority)]),
        )
        matrix = score_matrix(inputs)
        scores, feasible = matrix.scores[0], matrix.feasible[0]
        order = sorted(
            (i for i in range(n) if feasible[i]),
            key=lambda i: (-scores[i], arrays.models[i].cost, arrays.models[i].id),
        )
        candidates = tuple(
            Candidate(arrays.models[i], float(scores[i]), rank) for rank, i in enumerate(order)
        )
        return Ranking(catalog.version, candidates)


def _limit(value: float | None) -> float:
    return _NAN if value is None else float(value)
