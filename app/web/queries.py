"""The dashboard's reads: views and procedures through app.db.store, shaped for pages and charts.

Every figure comes from the database views (V_*) and procedures via store functions; live process
figures (pool, writer, spool, cooldowns, utilization) come from the engine. No SQL here. Each
function returns plain JSON-ready dicts; the page and its /dashboard/api/ endpoint serve the same
dict, so the server-rendered page and its refresh agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from app.routing.strategies import STRATEGIES

STRATEGY_CHOICES = tuple(sorted(STRATEGIES))
SEARCH_MAX = 200
DECISIONS_PAGE = 50
_DECISION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class DecisionSearch:
    """The decisions page's filters, validated from the query string (bad values are dropped)."""

    agent: str | None = None
    model: str | None = None
    strategy: str | None = None
    before: str | None = None  # cursor: decisions older than this decision id
    limit: int = DECISIONS_PAGE

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> DecisionSearch:
        def text(name: str) -> str | None:
            value = (args.get(name) or "").strip()
            return value[:SEARCH_MAX] or None

        strategy = text("strategy")
        before = text("before")
        return cls(
            agent=text("agent"),
            model=text("model"),
            strategy=strategy if strategy in STRATEGY_CHOICES else None,
            before=before if before and _DECISION_ID.match(before) else None,
        )

    @property
    def active(self) -> bool:
        return any((self.agent, self.model, self.strategy, self.before))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def overview(services) -> dict:
    raise NotImplementedError


def models(services) -> dict:
    raise NotImplementedError


def assignments(services) -> dict:
    raise NotImplementedError


def decisions(services, search: DecisionSearch) -> dict:
    raise NotImplementedError


def alerts(services) -> dict:
    raise NotImplementedError


def acknowledge_alert(services, alert_id: str, key_id: str | None) -> bool:
    raise NotImplementedError
