"""The catalog snapshot the router decides from: models, agents and active assignments.

A `Catalog` is immutable. When the catalog changes (model or agent edited, assignment run
activated) the owner builds a new one, swaps it in atomically (one reference assignment read by
the router's `catalog_provider`), and only then invalidates the ranking cache; each snapshot
carries a process-unique `version`, so derived state is keyed to the snapshot it came from.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_versions = itertools.count(1)  # next() on a count is atomic in CPython


def _frozen(mapping: Mapping) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class ModelView:
    """One model as the router sees it (MODELS + MODEL_CAPABILITIES)."""

    id: str
    endpoint: str
    context_window: int
    capacity: int  # MAX_CONCURRENCY: requests in flight at once
    cost: float = 0.0  # per 1k tokens
    prior_latency_ms: float = 1000.0
    status: str = "active"  # active / draining / disabled
    capabilities: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", _frozen(self.capabilities))

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent (AGENTS + AGENT_REQUIREMENTS); None limits mean no limit."""

    id: str
    task_type: str | None = None
    requirements: Mapping[str, float] = field(default_factory=dict)
    min_context: int = 0
    max_latency_ms: float | None = None
    max_cost_per_1k: float | None = None
    priority: int = 0
    status: str = "active"

    def __post_init__(self) -> None:
        object.__setattr__(self, "requirements", _frozen(self.requirements))


@dataclass(frozen=True, slots=True)
class Assignment:
    """The active AGENT_MODEL_ASSIGNMENTS row of an agent."""

    agent_id: str
    model_id: str
    assignment_id: str
    score: float = 0.0


@dataclass(frozen=True, slots=True, eq=False)
class Catalog:
    """Immutable snapshot; build with `Catalog.build(...)`."""

    models: Mapping[str, ModelView]
    agents: Mapping[str, AgentView]
    assignments: Mapping[str, Assignment]  # by agent id
    version: int

    @classmethod
    def build(
        cls,
        models: Iterable[ModelView] = (),
        agents: Iterable[AgentView] = (),
        assignments: Iterable[Assignment] = (),
    ) -> Catalog:
        """A new snapshot with a fresh version; ids must be unique."""
        by_model = _unique(models, "model")
        by_agent = _unique(agents, "agent")
        by_assignment: dict[str, Assignment] = {}
        for a in assignments:
            if a.agent_id in by_assignment:
                raise ValueError(f"two active assignments for agent {a.agent_id!r}")
            by_assignment[a.agent_id] = a
        return cls(
            models=_frozen(by_model),
            agents=_frozen(by_agent),
            assignments=_frozen(by_assignment),
            version=next(_versions),
        )

    def replace(
        self,
        *,
        models: Iterable[ModelView] | None = None,
        agents: Iterable[AgentView] | None = None,
        assignments: Iterable[Assignment] | None = None,
    ) -> Catalog:
        """A new snapshot with some parts replaced (the rest kept)."""
        return Catalog.build(
            self.models.values() if models is None else models,
            self.agents.values() if agents is None else agents,
            self.assignments.values() if assignments is None else assignments,
        )


def _unique(items: Iterable, kind: str) -> dict:
    out: dict = {}
    for item in items:
        if item.id in out:
            raise ValueError(f"duplicate {kind} id {item.id!r}")
        out[item.id] = item
    return out


EMPTY_CATALOG = Catalog(
    models=MappingProxyType({}),
    agents=MappingProxyType({}),
    assignments=MappingProxyType({}),
    version=0,
)
