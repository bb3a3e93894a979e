"""What the router learns from outcomes: per-model state and cooldown breakers, behind one lock.

Writers (outcomes, expiries, health seeding, probe claims) take the lock; the route step reads
without it: `blocked` holds only models whose breaker is not closed, so for a healthy fleet the
hot path pays one empty-dict check, and fields it reads are replaced whole (app.routing.cooldown).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from app.routing.cooldown import CLOSED, COLD_PRIOR, COOLING, BreakerRules, ModelState

log = logging.getLogger(__name__)

OPEN, BLOCKED, PROBE = 0, 1, 2  # what the breaker allows for the next request


class Learner:
    """Learned state of every model the router has heard of; thread-safe."""

    def __init__(
        self, rules: BreakerRules, window: int, decay_rate: float, prior_weight: float
    ) -> None:
        self._rules = rules
        self._window = window
        self._decay_rate = decay_rate
        self._prior_weight = prior_weight
        self._lock = threading.Lock()
        self.states: dict[str, ModelState] = {}
        self.blocked: dict[str, ModelState] = {}  # breaker not closed (lock-free reads)

    def gate(self, model_id: str, now: float) -> int:
        """OPEN, BLOCKED (cooling, or its probe is out), or PROBE (may take one probe)."""
        state = self.blocked.get(model_id)
        if state is None or state.state == CLOSED:
            return OPEN
        if state.probe_id is not None or now < state.until:
            return BLOCKED
        return PROBE

    def claim_probe(self, model_id: str, decision_id: str, now: float) -> bool:
        """Make `decision_id` the one probe of a half-open model; False if another won."""
        with self._lock:
            state = self.blocked.get(model_id)
            if state is None or state.state == CLOSED:
                return True  # closed meanwhile: an ordinary request
            if state.probe_id is not None or now < state.until:
                return False
            state.probe_id = decision_id
            return True

    def release_probe(self, model_id: str, decision_id: str) -> None:
        """Give back a claimed probe whose request could not start."""
        with self._lock:
            state = self.blocked.get(model_id)
            if state is not None and state.probe_id == decision_id:
                state.probe_id = None

    def learn(
        self,
        model_id: str,
        decision_id: str | None,
        success: bool,
        now: float,
    ) -> None:
        """Fold one outcome into the posterior and the breaker."""
        with self._lock:
            state = self._state(model_id)
            before = state.state
            state.learn(success, now, self._decay_rate)
            state.record(success, decision_id, now, self._rules)
            after = state.state
            if after == CLOSED:
                self.blocked.pop(model_id, None)
            else:
                self.blocked[model_id] = state
            reason, until = state.reason, state.until
        if after == COOLING and (before == CLOSED or not success):
            log.warning("model %s cooled down for %.0f s: %s", model_id, until - now, reason)
        elif after == CLOSED and before != CLOSED:
            log.info("model %s recovered: probe succeeded, full traffic again", model_id)

    def seed(self, health: dict[str, dict]) -> None:
        """Priors from V_MODEL_HEALTH rows (see Router.set_health)."""
        with self._lock:
            for model_id, row in health.items():
                requests = int(row.get("requests") or 0)
                if requests <= 0:
                    continue
                state = self._state(model_id)
                rate = row.get("success_rate")
                if rate is not None:
                    state.seed(float(rate), requests, self._prior_weight)
                latency = row.get("avg_latency_ms")
                if latency is not None and latency > 0:
                    state.prior_latency_ms = float(latency)

    def _state(self, model_id: str) -> ModelState:
        state = self.states.get(model_id)
        if state is None:
            state = self.states[model_id] = ModelState(model_id, self._window)
        return state

    def success_mean(self, model_id: str, now: float) -> float:
        state = self.states.get(model_id)
        a, b = COLD_PRIOR if state is None else state.posterior(now, self._decay_rate)
        return a / (a + b)

    def phase(self, model_id: str, now: float) -> str:
        state = self.states.get(model_id)
        return CLOSED if state is None else state.phase(now)

    def cooldowns(self, now: float, wall: float) -> list[dict]:
        """Models not at full traffic, with monotonic and wall-clock (UTC) end of the rest."""
        with self._lock:
            rows = [
                (s.model_id, s.phase(now), s.until, s.reason, s.probe_id is not None)
                for s in self.blocked.values()
            ]
        wall_now = datetime.fromtimestamp(wall, tz=UTC)
        return [
            {
                "model_id": model_id,
                "state": phase,
                "until": until,
                "until_utc": (wall_now + timedelta(seconds=until - now)).isoformat(),
                "reason": reason,
                "probe_in_flight": probing,
            }
            for model_id, phase, until, reason, probing in sorted(rows)
        ]
