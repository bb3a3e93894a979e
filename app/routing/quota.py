"""In-flight quotas per API key and per agent: no single client holds every model's capacity.

Why (issue 14): one router key sent ~30 routes and never reported their outcomes; that held every
slot of the example catalog (30 in all) and every agent got 503 "no model available ... at
capacity" until the requests expired, 300 s later. Each decision is now also counted under the key
that asked for it and under its agent. A key may hold at most `quota.key_share` of the catalog's
in-flight capacity (the sum of the active models' MAX_CONCURRENCY), an agent `quota.agent_share`;
the request past it is refused with 429 before it takes any model's slot. A share of 1 is no
limit (one key that carries all the traffic). Counts are per process, like the load counters
(app.routing.load): an outcome reaches the process that made its decision.
"""

from __future__ import annotations

import math
import threading
from collections import Counter


class QuotaExceeded(Exception):
    """A key or an agent holds its whole share; the message names the quota and its setting."""

    def __init__(self, what: str, name: str, held: int, limit: int, setting: str) -> None:
        super().__init__(
            f"{what} {name} has {held} requests in flight, its quota ({setting}: at most "
            f"{limit}); report their outcomes, or wait until they expire"
        )
        self.setting = setting


class Quotas:
    """Open decision ids counted per key and per agent; thread-safe, O(1) per call."""

    def __init__(self, key_share: float, agent_share: float) -> None:
        for name, share in (("quota.key_share", key_share), ("quota.agent_share", agent_share)):
            if not 0.0 < share <= 1.0:
                raise ValueError(f"{name} must be in (0, 1]")
        self.key_share = key_share
        self.agent_share = agent_share
        self._lock = threading.Lock()
        self._open: dict[str, tuple[str | None, str]] = {}
        self._by_key: Counter[str] = Counter()
        self._by_agent: Counter[str] = Counter()

    def hold(self, decision_id: str, key_id: str | None, agent_id: str, capacity: int) -> None:
        """Count the decision under its key (None: not an API caller) and agent, or raise
        QuotaExceeded changing nothing (atomic check-and-add)."""
        key_limit = _limit(self.key_share, capacity)
        agent_limit = _limit(self.agent_share, capacity)
        with self._lock:
            if key_id is not None and self._by_key[key_id] >= key_limit:
                raise QuotaExceeded(
                    "API key", key_id, self._by_key[key_id], key_limit, "quota.key_share"
                )
            if self._by_agent[agent_id] >= agent_limit:
                raise QuotaExceeded(
                    "agent", agent_id, self._by_agent[agent_id], agent_limit, "quota.agent_share"
                )
            self._open[decision_id] = (key_id, agent_id)
            if key_id is not None:
                self._by_key[key_id] += 1
            self._by_agent[agent_id] += 1

    def release(self, decision_id: str) -> bool:
        """Uncount a finished, abandoned or expired decision; False when it was not held."""
        with self._lock:
            held = self._open.pop(decision_id, None)
            if held is None:
                return False
            key_id, agent_id = held
            if key_id is not None:
                _decrement(self._by_key, key_id)
            _decrement(self._by_agent, agent_id)
            return True

    def held(self) -> dict[str, dict[str, int]]:
        """In-flight counts per key and per agent (non-zero only)."""
        with self._lock:
            return {"keys": dict(self._by_key), "agents": dict(self._by_agent)}


def _limit(share: float, capacity: int) -> float:
    """A share of 1 is no limit; any other share allows at least one request."""
    return math.inf if share >= 1.0 else max(1, math.floor(share * capacity))


def _decrement(counts: Counter[str], name: str) -> None:
    if counts[name] <= 1:
        del counts[name]  # no zero entries: the counters stay as small as the clients in flight
    else:
        counts[name] -= 1
