"""The result of a route decision and the errors the route step raises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class UnknownAgent(LookupError):
    """The agent does not exist in the catalog or is not active (API: 404)."""


class NoModelAvailable(RuntimeError):
    """No model can take the request now (API: 503); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownStrategy(ValueError):
    """The request named a strategy the router does not have (API: 422)."""


@dataclass(slots=True)
class Decision:
    """One routing decision; `to_dict()` is the API's route body plus agent, task, time."""

    decision_id: str  # UUIDv7, time-ordered
    agent_id: str
    task_type: str | None  # the request's, else the agent's own
    model_id: str
    endpoint: str
    assignment_id: str | None  # set when the decision went to the agent's assigned model
    fallbacks: list[dict]  # [{"model_id", "endpoint"}], ordered, distinct, live or full
    strategy: str
    score: float  # capability score of the chosen model for this agent and task type
    cache_hit: bool
    reason: str
    decided_at: datetime  # UTC, the time encoded in decision_id
    probe: bool = False  # the single half-open probe of a cooled-down model

    def to_dict(self) -> dict:
        return {
            "decision_id": self.decision_id,
            "agent_id": self.agent_id,
            "task_type": self.task_type,
            "model_id": self.model_id,
            "endpoint": self.endpoint,
            "assignment_id": self.assignment_id,
            "fallbacks": [dict(f) for f in self.fallbacks],
            "strategy": self.strategy,
            "score": self.score,
            "cache_hit": self.cache_hit,
            "reason": self.reason,
            "decided_at": self.decided_at.isoformat(),
        }
