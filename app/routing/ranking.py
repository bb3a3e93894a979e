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
from collections.abc import Collection

from app.routing.cache import bucket_min_tokens
from app.routing.catalog import AgentView, Catalog, ModelView
from app.scoring import build_inputs, score_matrix


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


class _ModelRows:
    """The catalog's models as the scorer's API-shaped rows, built once per catalog version."""

    def __init__(self, catalog: Catalog) -> None:
        self.version = catalog.version
        self.models: list[ModelView] = list(catalog.models.values())
        self.rows = [
            {
                "id": m.id,
                "capabilities": dict(m.capabilities),
                "context_window": m.context_window,
                "max_concurrency": m.capacity,
                "cost_per_1k_tokens": m.cost,
                "prior_latency_ms": m.prior_latency_ms,
                "status": m.status,
            }
            for m in self.models
        ]
        self.capabilities = frozenset(c for m in self.models for c in m.capabilities)


def requirements_for(
    agent: AgentView, task_type: str | None, known: Collection[str]
) -> dict[str, float]:
    """The agent's requirement weights, with the request's task type emphasised (module doc)."""
    weights = dict(agent.requirements)
    if task_type is not None and task_type != agent.task_type and task_type in known:
        weights[task_type] = max(weights.values(), default=1.0) or 1.0
    return weights


class Ranker:
    """Computes rankings with app.scoring; keeps the model rows of the latest catalog version."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: _ModelRows | None = None

    def _model_rows(self, catalog: Catalog) -> _ModelRows:
        rows = self._models
        if rows is None or rows.version != catalog.version:
            with self._lock:
                rows = self._models
                if rows is None or rows.version != catalog.version:
                    rows = self._models = _ModelRows(catalog)
        return rows

    def rank(
        self, catalog: Catalog, agent: AgentView, task_type: str | None, bucket: int
    ) -> Ranking:
        """Feasible models for the agent whose context can hold a prompt of this size bucket.

        Feasibility and scores are the scorer's (hard constraints: active, context, cost,
        latency), without health data; the bucket's smallest prompt raises the agent's
        min_context, and the exact prompt size is checked per request.
        """
        models = self._model_rows(catalog)
        if not models.models:
            return Ranking(catalog.version, ())
        agent_row = {
            "id": agent.id,
            "requirements": requirements_for(agent, task_type, models.capabilities),
            "min_context": max(agent.min_context, bucket_min_tokens(bucket)),
            "max_latency_ms": agent.max_latency_ms,
            "max_cost_per_1k": agent.max_cost_per_1k,
            "priority": agent.priority,
            "status": "active",
        }
        matrix = score_matrix(build_inputs(models.rows, [agent_row]))
        scores, feasible = matrix.scores[0].tolist(), matrix.feasible[0].tolist()
        order = sorted(
            (i for i, ok in enumerate(feasible) if ok),
            key=lambda i: (-scores[i], models.models[i].cost, models.models[i].id),
        )
        candidates = tuple(
            Candidate(models.models[i], scores[i], rank) for rank, i in enumerate(order)
        )
        return Ranking(catalog.version, candidates)
