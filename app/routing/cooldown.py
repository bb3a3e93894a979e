"""Per-model learned state: decayed success posterior, recent outcomes, cooldown breaker.

Cooldown is a circuit breaker per model:

    closed --(N consecutive failures, or error rate >= r over the last W outcomes)--> cooling
    cooling --(T seconds pass)--> half_open: exactly one probe request may be routed to it
    half_open --(probe succeeds)--> closed        half_open --(probe fails or expires)--> cooling

While cooling, and while a probe is in flight, the model gets no traffic. Outcomes of requests
routed before the model cooled down still teach the posterior but do not move the breaker.

The success posterior is Beta(prior_a + s, prior_b + f) where s and f are success and failure
counts decayed exponentially with `half_life_s`, so old evidence fades and a model that recovered
wins traffic back. The prior is seeded from V_MODEL_HEALTH (`seed`), so a restarted process is
not blind. Fields read by the hot path are replaced as whole tuples, never mutated in place, so
lock-free readers see either the old or the new value; writers hold the router's lock.
"""

from __future__ import annotations

import math
from collections import deque

CLOSED, COOLING, HALF_OPEN = "closed", "cooling", "half_open"

# Prior of a model nothing is known about: Beta(9.5, 0.5), mean 0.95 worth 10 outcomes. A flat
# Beta(1, 1) made cold-start picks a lottery (success^5 of a uniform draw swamps capability), so
# a new fleet's first requests went to weak models; an optimistic, moderately firm prior lets
# capability lead until evidence arrives, and a few failures still pull a model down quickly.
COLD_PRIOR = (9.5, 0.5)


class ModelState:
    """Everything the router has learned about one model (outlives catalog snapshots)."""

    __slots__ = (
        "model_id",
        "belief",
        "prior_latency_ms",
        "recent",
        "recent_failures",
        "consecutive_failures",
        "state",
        "until",
        "reason",
        "probe_id",
        "cooldowns_total",
    )

    def __init__(self, model_id: str, window: int) -> None:
        self.model_id = model_id
        # (prior_a, prior_b, decayed successes, decayed failures, time of last decay)
        self.belief: tuple[float, float, float, float, float] = (*COLD_PRIOR, 0.0, 0.0, 0.0)
        self.prior_latency_ms: float | None = None  # from V_MODEL_HEALTH, else the catalog's
        self.recent: deque[int] = deque(maxlen=window)  # 1 = failure
        self.recent_failures = 0
        self.consecutive_failures = 0
        self.state = CLOSED
        self.until = 0.0
        self.reason = ""
        self.probe_id: str | None = None
        self.cooldowns_total = 0

    # -- posterior --------------------------------------------------------------------------------

    def posterior(self, now: float, decay_rate: float) -> tuple[float, float]:
        """Beta parameters (a, b) at `now`."""
        a0, b0, s, f, t = self.belief
        if s or f:
            d = math.exp(-decay_rate * (now - t)) if now > t else 1.0
            return a0 + s * d, b0 + f * d
        return a0, b0

    def learn(self, success: bool, now: float, decay_rate: float) -> None:
        a0, b0, s, f, t = self.belief
        d = math.exp(-decay_rate * (now - t)) if now > t else 1.0
        s, f = s * d, f * d
        if success:
            s += 1.0
        else:
            f += 1.0
        self.belief = (a0, b0, s, f, max(now, t))

    def seed(self, success_rate: float, requests: int, prior_weight: float) -> None:
        """Set the prior from database health: up to `prior_weight` pseudo-observations."""
        w = min(float(requests), prior_weight)
        rate = min(max(success_rate, 0.0), 1.0)
        _, _, s, f, t = self.belief
        self.belief = (1.0 + w * rate, 1.0 + w * (1.0 - rate), s, f, t)

    # -- breaker ----------------------------------------------------------------------------------

    def record(
        self, success: bool, decision_id: str | None, now: float, rules: BreakerRules
    ) -> None:
        """Move the breaker for one outcome (posterior is updated separately)."""
        if self.state != CLOSED:
            if decision_id is not None and decision_id == self.probe_id:
                self.probe_id = None
                if success:
                    self._close()
                else:
                    self._cool(now, rules, "probe failed")
            return  # stragglers routed before the cooldown do not move the breaker
        failed = 0 if success else 1
        if len(self.recent) == self.recent.maxlen:
            self.recent_failures -= self.recent[0]
        self.recent.append(failed)
        self.recent_failures += failed
        self.consecutive_failures = self.consecutive_failures + 1 if failed else 0
        if self.consecutive_failures >= rules.failures:
            self._cool(now, rules, f"{self.consecutive_failures} consecutive failures")
        elif len(self.recent) >= rules.min_samples:
            rate = self.recent_failures / len(self.recent)
            if rate >= rules.error_rate:
                self._cool(
                    now,
                    rules,
                    f"error rate {rate:.0%} over the last {len(self.recent)} outcomes",
                )

    def phase(self, now: float) -> str:
        """closed, cooling, or half_open (cooling time over)."""
        if self.state == CLOSED:
            return CLOSED
        return COOLING if now < self.until else HALF_OPEN

    def _cool(self, now: float, rules: BreakerRules, reason: str) -> None:
        self.state = COOLING
        self.until = now + rules.seconds
        self.reason = reason
        self.cooldowns_total += 1
        self._reset_window()

    def _close(self) -> None:
        self.state = CLOSED
        self.until = 0.0
        self.reason = ""
        self._reset_window()

    def _reset_window(self) -> None:
        self.recent.clear()
        self.recent_failures = 0
        self.consecutive_failures = 0


class BreakerRules:
    """Thresholds of the cooldown breaker."""

    __slots__ = ("failures", "error_rate", "min_samples", "seconds")

    def __init__(self, failures: int, error_rate: float, min_samples: int, seconds: float) -> None:
        if failures < 1 or not 0.0 < error_rate <= 1.0 or min_samples < 1 or seconds < 0:
            raise ValueError("invalid cooldown settings")
        self.failures = failures
        self.error_rate = error_rate
        self.min_samples = min_samples
        self.seconds = seconds
