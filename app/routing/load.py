"""In-flight load per model and EWMA latency, for the route decision and LOAD_SNAPSHOTS.

Every routed request is `start`ed under its decision id and `finish`ed by its outcome. The decision
id is the unit of accounting: a second `finish` for the same id, a `finish` for an id never
started, and a `finish` after the entry expired all return False and change nothing, so counts can
neither drift nor go negative (a popular gateway decrements per callback and drifts below zero).
Entries whose outcome never arrives are removed by `expire()` after `inflight_timeout_s` and
counted per model (`expired_total`); they teach nothing about the model's latency or failures:
the client abandoned the request, which says nothing about the model (issue 14: unreported
routes from one key cooled models down). Until then each one holds a slot of its model's
capacity, so the timeout bounds how long abandoned requests keep capacity from others.

Counts are right because one process per host owns them (see app.routing for the process model):
an outcome reaches the process that made its decision. Writes take one lock and are O(1); the
hot-path reads (`inflight`, `latency`) are lock-free reads of a dict slot holding an int or an
immutable tuple, which is atomic in CPython.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import NamedTuple


class Expired(NamedTuple):
    decision_id: str
    model_id: str
    age_s: float


class LatencyView(NamedTuple):
    """What the router reads per candidate: penalised EWMA latency, EWMA failure rate, when."""

    ewma_latency_ms: float
    ewma_failure: float
    updated_at: float


class LoadTracker:
    """Thread-safe in-flight counters keyed by decision id, with per-model EWMAs.

    `ewma_alpha` weighs the newest outcome when outcomes arrive back to back; the weight of the
    old average also halves every `ewma_half_life_s` of silence. A failure enters the latency
    EWMA as `max(latency_ms, failure_penalty_ms)` so that a model failing fast never looks fast,
    and the failure indicator has its own EWMA (`ewma_failure`).
    """

    def __init__(
        self,
        inflight_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        ewma_alpha: float = 0.2,
        *,
        failure_penalty_ms: float = 5000.0,
        ewma_half_life_s: float = 60.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if inflight_timeout_s <= 0:
            raise ValueError("inflight_timeout_s must be positive")
        if not 0.0 < ewma_alpha <= 1.0:
            raise ValueError("ewma_alpha must be in (0, 1]")
        if ewma_half_life_s <= 0:
            raise ValueError("ewma_half_life_s must be positive")
        self.inflight_timeout_s = inflight_timeout_s
        self.failure_penalty_ms = failure_penalty_ms
        self._clock = clock
        self._wall_clock = wall_clock
        self._alpha = ewma_alpha
        self._age_rate = math.log(2.0) / ewma_half_life_s
        self._lock = threading.Lock()
        # decision_id -> (model_id, started_at); insertion order == start order, so the oldest
        # entries are at the front and expire() pops them in O(expired).
        self._open: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._counts: dict[str, int] = {}
        self._latency: dict[str, LatencyView] = {}
        self._finished: dict[str, int] = {}
        self._expired: dict[str, int] = {}

    # -- writes ---------------------------------------------------------------------------------

    def start(self, decision_id: str, model_id: str) -> bool:
        """Count one request in flight on `model_id`; False (no change) if the id is open."""
        with self._lock:
            if decision_id in self._open:
                return False
            self._open[decision_id] = (model_id, self._clock())
            self._counts[model_id] = self._counts.get(model_id, 0) + 1
            return True

    def try_start(self, decision_id: str, model_id: str, capacity: int) -> bool:
        """`start` only while fewer than `capacity` are in flight (atomic check-and-add)."""
        with self._lock:
            if decision_id in self._open or self._counts.get(model_id, 0) >= capacity:
                return False
            self._open[decision_id] = (model_id, self._clock())
            self._counts[model_id] = self._counts.get(model_id, 0) + 1
            return True

    def finish(self, decision_id: str, success: bool, latency_ms: float) -> bool:
        """Release the request and learn its latency.

        Returns False, changing nothing, when the id is unknown, already finished or expired.
        """
        with self._lock:
            entry = self._open.pop(decision_id, None)
            if entry is None:
                return False
            model_id = entry[0]
            self._release(model_id)
            self._finished[model_id] = self._finished.get(model_id, 0) + 1
            self._observe(model_id, success, latency_ms)
            return True

    def cancel(self, decision_id: str) -> bool:
        """Release a request that never reached its model (e.g. its decision could not be
        stored), learning nothing from it; False when the id is not open."""
        with self._lock:
            entry = self._open.pop(decision_id, None)
            if entry is None:
                return False
            self._release(entry[0])
            return True

    def observe(self, model_id: str, success: bool, latency_ms: float) -> None:
        """Learn a latency that has no open decision (e.g. a health check)."""
        with self._lock:
            self._observe(model_id, success, latency_ms)

    def expire(self) -> list[Expired]:
        """Remove entries open longer than the timeout, freeing their slots; learns nothing."""
        now = self._clock()
        deadline = now - self.inflight_timeout_s
        out: list[Expired] = []
        with self._lock:
            while self._open:
                decision_id, (model_id, started) = next(iter(self._open.items()))
                if started > deadline:
                    break
                self._open.popitem(last=False)
                self._release(model_id)
                self._expired[model_id] = self._expired.get(model_id, 0) + 1
                out.append(Expired(decision_id, model_id, now - started))
        return out

    def open_older_than(self, age_s: float, limit: int = 500) -> list[tuple[str, str]]:
        """(decision_id, model_id) of up to `limit` requests open for at least `age_s`, oldest
        first: candidates for reconciling outcomes that reached another host."""
        deadline = self._clock() - age_s
        out: list[tuple[str, str]] = []
        with self._lock:
            for decision_id, (model_id, started) in self._open.items():
                if started > deadline or len(out) >= limit:
                    break
                out.append((decision_id, model_id))
        return out

    def _release(self, model_id: str) -> None:
        n = self._counts[model_id] - 1
        # The entry existed, so n >= 0 always; keep zero entries so readers see 0, not a gap.
        self._counts[model_id] = n

    def _observe(self, model_id: str, success: bool, latency_ms: float) -> None:
        sample = float(latency_ms) if success else max(float(latency_ms), self.failure_penalty_ms)
        fail = 0.0 if success else 1.0
        prev = self._latency.get(model_id)
        now = self._clock()
        if prev is None:
            view = LatencyView(sample, fail, now)
        else:
            # An average counts for less the older it is: after a quiet spell the new outcome
            # weighs more than alpha, so a model that got no traffic is not judged by old news.
            age = now - prev.updated_at
            keep = 1.0 - self._alpha
            if age > 0.0:
                keep *= math.exp(-self._age_rate * age)
            view = LatencyView(
                sample + keep * (prev.ewma_latency_ms - sample),
                fail + keep * (prev.ewma_failure - fail),
                now,
            )
        self._latency[model_id] = view  # replaced whole: lock-free readers see old or new

    # -- reads ----------------------------------------------------------------------------------

    def inflight(self, model_id: str) -> int:
        """Requests in flight on `model_id` (lock-free)."""
        return self._counts.get(model_id, 0)

    def is_open(self, decision_id: str) -> bool:
        """True while `decision_id` is started and neither finished nor expired."""
        return decision_id in self._open

    def utilization(self, model_id: str, capacity: int) -> float:
        """In-flight / capacity; a model with no capacity is fully utilised."""
        n = self._counts.get(model_id, 0)
        if capacity <= 0:
            return 1.0
        return n / capacity

    def latency(self, model_id: str) -> LatencyView | None:
        """Penalised EWMA latency, EWMA failure rate and last update, or None before any outcome."""
        return self._latency.get(model_id)

    def ewma_latency_ms(self, model_id: str) -> float | None:
        view = self._latency.get(model_id)
        return None if view is None else view.ewma_latency_ms

    def expired_total(self, model_id: str) -> int:
        return self._expired.get(model_id, 0)

    def total_inflight(self) -> int:
        return len(self._open)

    def snapshot(self, capacities: Mapping[str, int]) -> list[dict]:
        """Rows for LOAD_SNAPSHOTS: one per model in `capacities` or with requests in flight."""
        taken_at = datetime.fromtimestamp(self._wall_clock(), tz=UTC)
        with self._lock:
            models = list(capacities)
            models += sorted(m for m, n in self._counts.items() if n and m not in capacities)
            rows = []
            for model_id in models:
                n = self._counts.get(model_id, 0)
                cap = capacities.get(model_id, 0)
                view = self._latency.get(model_id)
                rows.append(
                    {
                        "model_id": model_id,
                        "in_flight": n,
                        "utilization": (n / cap) if cap > 0 else (1.0 if n else 0.0),
                        "ewma_latency_ms": None if view is None else view.ewma_latency_ms,
                        "taken_at": taken_at,
                    }
                )
            return rows

    def stats(self) -> dict[str, dict[str, int]]:
        """Per-model counters for /api/v1/load and /metrics."""
        with self._lock:
            models = set(self._counts) | set(self._finished) | set(self._expired)
            return {
                m: {
                    "in_flight": self._counts.get(m, 0),
                    "finished_total": self._finished.get(m, 0),
                    "expired_total": self._expired.get(m, 0),
                }
                for m in sorted(models)
            }
