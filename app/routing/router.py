"""The route decision: cached ranking -> live filter -> strategy -> decision with fallbacks.

Hot path budget: a few tens of microseconds. No database, no logging, no numpy, no lock except
the ranking cache's and the load tracker's check-and-add; learned state is read lock-free (see
app.routing.cooldown). Everything slow (ranking on a cache miss, learning from outcomes, expiry of
lost requests, health seeding) happens off the common path or in the outcome handler.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.cache import RankingCache, size_bucket
from app.ids import new_decision_id_with_time
from app.load import LoadTracker
from app.routing.catalog import Assignment, Catalog
from app.routing.cooldown import CLOSED, COOLING, BreakerRules, ModelState
from app.routing.ranking import Candidate, Ranker, Ranking
from app.routing.strategies import STRATEGIES, Signals, Tuning

log = logging.getLogger(__name__)


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
    """One routing decision; `to_dict()` is the API's route body."""

    decision_id: str
    agent_id: str
    task_type: str | None
    model_id: str
    endpoint: str
    assignment_id: str | None  # set when the decision went to the agent's assigned model
    fallbacks: list[dict]
    strategy: str
    score: float  # capability score of the chosen model for this agent and task type
    cache_hit: bool
    reason: str
    decided_at: datetime
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


class Router:
    """Decides the model of each request and learns from each outcome. Thread-safe."""

    def __init__(
        self,
        catalog_provider: Callable[[], Catalog],
        load: LoadTracker,
        cache: RankingCache,
        *,
        default_strategy: str = "adaptive",
        cooldown_failures: int = 3,
        cooldown_error_rate: float = 0.5,
        error_rate_window: int = 20,
        error_rate_min_samples: int = 10,
        cooldown_seconds: float = 30.0,
        max_fallbacks: int = 3,
        tuning: Tuning | None = None,
        prior_weight: float = 20.0,
        expire_every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if default_strategy not in STRATEGIES:
            raise UnknownStrategy(default_strategy)
        if not 1 <= error_rate_min_samples <= error_rate_window:
            raise ValueError("error_rate_min_samples must be in 1..error_rate_window")
        self._catalog = catalog_provider
        self.load = load
        self.cache = cache
        self.default_strategy = default_strategy
        self._rules = BreakerRules(
            cooldown_failures,
            cooldown_error_rate,
            error_rate_min_samples,
            cooldown_seconds,
        )
        self._window = error_rate_window
        self._max_fallbacks = max_fallbacks
        self._tuning = tuning or Tuning()
        self._prior_weight = prior_weight
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng if rng is not None else random.Random()
        self._ranker = Ranker()
        self._lock = threading.Lock()  # guards learned state writes
        self._states: dict[str, ModelState] = {}
        self._blocked: dict[str, ModelState] = {}  # models whose breaker is not closed
        self._signals = Signals(load, self._states, self._tuning, self._rng)
        self._expire_every = expire_every_s
        self._next_expire = clock() + expire_every_s

    # -- route --------------------------------------------------------------------------------

    def route(
        self,
        agent_id: str,
        task_type: str | None = None,
        prompt_tokens: int = 0,
        strategy: str | None = None,
    ) -> Decision:
        """Choose a model for one request of `agent_id` and count it in flight.

        Raises UnknownAgent, UnknownStrategy, or NoModelAvailable (with the reason).
        """
        now = self._clock()
        if now >= self._next_expire:
            self.expire(now)
        name = strategy or self.default_strategy
        pick = STRATEGIES.get(name)
        if pick is None:
            raise UnknownStrategy(f"unknown strategy {name!r}; one of {sorted(STRATEGIES)}")
        catalog = self._catalog()
        agent = catalog.agents.get(agent_id)
        if agent is None or agent.status != "active":
            raise UnknownAgent(f"unknown or inactive agent {agent_id!r}")
        if task_type is None:
            task_type = agent.task_type
        key = (agent_id, task_type, size_bucket(prompt_tokens))
        ranking = self.cache.get(key)
        cache_hit = ranking is not None and ranking.catalog_version == catalog.version
        if not cache_hit:
            catalog, ranking = self._rank(key, agent_id)
        assignment = catalog.assignments.get(agent_id)
        decision_id, decided_at = new_decision_id_with_time()
        limit = self._tuning.top_k if name == "adaptive" else 1 << 30
        if name == "assigned":
            limit = self._max_fallbacks + 1
        live, spare, probes = self._live(ranking, prompt_tokens, now, limit, assignment, name)
        while live:
            chosen, reason = pick(live, self._signals, now, assignment)
            is_probe = chosen.model_id in probes
            if (not is_probe or self._claim_probe(chosen.model_id, decision_id, now)) and (
                self.load.try_start(decision_id, chosen.model_id, chosen.capacity)
            ):
                break
            if is_probe:
                self._release_probe(chosen.model_id, decision_id)
            live.remove(chosen)  # lost a race for its last slot or its probe: pick again
        else:
            raise NoModelAvailable(self._why_none(ranking, prompt_tokens, agent_id, now))
        if is_probe:
            reason += "; half-open probe after cooldown"
        fallbacks = [
            {"model_id": c.model_id, "endpoint": c.endpoint}
            for c in (live + spare)
            if c is not chosen and c.model_id not in probes
        ][: self._max_fallbacks]
        return Decision(
            decision_id=decision_id,
            agent_id=agent_id,
            task_type=task_type,
            model_id=chosen.model_id,
            endpoint=chosen.endpoint,
            assignment_id=(
                assignment.assignment_id
                if assignment is not None and assignment.model_id == chosen.model_id
                else None
            ),
            fallbacks=fallbacks,
            strategy=name,
            score=chosen.capability,
            cache_hit=cache_hit,
            reason=reason,
            decided_at=decided_at,
            probe=is_probe,
        )

    def _rank(self, key: tuple, agent_id: str) -> tuple[Catalog, Ranking]:
        """Cache miss: compute and store the ranking (generation taken before the catalog read)."""
        generation = self.cache.generation()
        catalog = self._catalog()
        agent = catalog.agents.get(agent_id)
        if agent is None or agent.status != "active":
            raise UnknownAgent(f"unknown or inactive agent {agent_id!r}")
        ranking = self._ranker.rank(catalog, agent, key[1], key[2])
        self.cache.put(key, ranking, ranking.model_ids, generation)
        return catalog, ranking

    def _live(
        self,
        ranking: Ranking,
        prompt_tokens: int,
        now: float,
        limit: int,
        assignment: Assignment | None,
        strategy: str,
    ) -> tuple[list[Candidate], list[Candidate], set[str]]:
        """Split the ranking: live (may take it now), spare (full; fallback material), probes."""
        live: list[Candidate] = []
        spare: list[Candidate] = []
        probes: set[str] = set()
        blocked = self._blocked
        inflight = self.load.inflight
        for c in ranking.candidates:
            if c.context_window < prompt_tokens:
                continue
            mid = c.model_id
            if blocked:
                state = blocked.get(mid)
                if state is not None and state.state != CLOSED:
                    if state.probe_id is not None or now < state.until:
                        continue  # cooling, or its one probe is already out
                    probes.add(mid)
            if inflight(mid) >= c.capacity:
                if mid not in probes:
                    spare.append(c)
                continue
            live.append(c)
            if len(live) >= limit:
                break
        if strategy == "assigned" and assignment is not None:
            self._add_assigned(live, ranking, prompt_tokens, now, assignment, probes)
        return live, spare, probes

    def _add_assigned(self, live, ranking, prompt_tokens, now, assignment, probes) -> None:
        """The scan for `assigned` stops early; make sure the assigned model is considered."""
        c = ranking.by_model.get(assignment.model_id)
        if c is None or c in live or c.context_window < prompt_tokens:
            return
        state = self._blocked.get(c.model_id)
        if state is not None and state.state != CLOSED:
            if state.probe_id is not None or now < state.until:
                return
            probes.add(c.model_id)
        if self.load.inflight(c.model_id) < c.capacity:
            live.append(c)

    def _why_none(self, ranking: Ranking, prompt_tokens: int, agent_id: str, now: float) -> str:
        if not ranking.candidates:
            return f"no model satisfies the requirements of agent {agent_id!r}"
        small = cooling = full = 0
        for c in ranking.candidates:
            state = self._blocked.get(c.model_id)
            if c.context_window < prompt_tokens:
                small += 1
            elif (
                state is not None
                and state.state != CLOSED
                and (state.probe_id is not None or now < state.until)
            ):
                cooling += 1
            else:
                full += 1
        return (
            f"all {len(ranking.candidates)} candidate models of agent {agent_id!r} are "
            f"unavailable: {small} too small for {prompt_tokens} tokens, {cooling} cooling down, "
            f"{full} at capacity"
        )

    # -- probes -----------------------------------------------------------------------------------

    def _claim_probe(self, model_id: str, decision_id: str, now: float) -> bool:
        with self._lock:
            state = self._blocked.get(model_id)
            if state is None or state.state == CLOSED:
                return True  # closed meanwhile: an ordinary request
            if state.probe_id is not None or now < state.until:
                return False
            state.probe_id = decision_id
            return True

    def _release_probe(self, model_id: str, decision_id: str) -> None:
        with self._lock:
            state = self._blocked.get(model_id)
            if state is not None and state.probe_id == decision_id:
                state.probe_id = None

    # -- learning ---------------------------------------------------------------------------------

    def record_outcome(
        self, decision_id: str | None, model_id: str, success: bool, latency_ms: float
    ) -> bool:
        """Release the request's load and learn from its outcome.

        Returns False, learning nothing, when the decision is not in flight here (unknown,
        already recorded, or expired: expiry already counted it as a failure). With
        `decision_id=None` the outcome is learned without touching in-flight counts.
        """
        if decision_id is not None:
            if not self.load.finish(decision_id, success, latency_ms):
                return False
        else:
            self.load.observe(model_id, success, latency_ms)
        self._learn(model_id, decision_id, bool(success), self._clock())
        return True

    def expire(self, now: float | None = None) -> int:
        """Expire lost in-flight requests (each a failure); route calls it about once a second."""
        now = self._clock() if now is None else now
        self._next_expire = now + self._expire_every
        expired = self.load.expire()
        for e in expired:
            self._learn(e.model_id, e.decision_id, False, now, expired=True)
        return len(expired)

    def _learn(
        self,
        model_id: str,
        decision_id: str | None,
        success: bool,
        now: float,
        expired: bool = False,
    ) -> None:
        with self._lock:
            state = self._state(model_id)
            before = state.state
            state.learn(success, now, self._tuning.decay_rate)
            if expired and decision_id is not None and decision_id == state.probe_id:
                state.probe_lost(decision_id, now, self._rules)
            else:
                state.record(success, decision_id, now, self._rules)
            after = state.state
            if after == CLOSED:
                self._blocked.pop(model_id, None)
            else:
                self._blocked[model_id] = state
            reason, until = state.reason, state.until
        if after == COOLING and (before == CLOSED or not success):
            log.warning("model %s cooled down for %.0f s: %s", model_id, until - now, reason)
        elif after == CLOSED and before != CLOSED:
            log.info("model %s recovered: probe succeeded, full traffic again", model_id)

    def _state(self, model_id: str) -> ModelState:
        state = self._states.get(model_id)
        if state is None:
            state = self._states[model_id] = ModelState(model_id, self._window)
        return state

    def set_health(self, health: dict[str, dict]) -> None:
        """Seed priors from V_MODEL_HEALTH: {model_id: {success_rate, avg_latency_ms, requests}}.

        Called by the background health refresh, so a restarted process starts from the fleet's
        recent record rather than from nothing.
        """
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

    # -- reporting --------------------------------------------------------------------------------

    def cooldowns(self) -> list[dict]:
        """Models not at full traffic: cooling (resting) or half_open (one probe allowed)."""
        now, wall = self._clock(), self._wall_clock()
        with self._lock:
            rows = [
                (s.model_id, s.phase(now), s.until, s.reason, s.probe_id is not None)
                for s in self._blocked.values()
            ]
        return [
            {
                "model_id": model_id,
                "state": phase,
                "until": until,
                "until_utc": (
                    datetime.fromtimestamp(wall, tz=UTC) + timedelta(seconds=until - now)
                ).isoformat(),
                "reason": reason,
                "probe_in_flight": probing,
            }
            for model_id, phase, until, reason, probing in sorted(rows)
        ]

    def model_status(self) -> list[dict]:
        """Per catalog model: load, learned success and latency, breaker (GET /api/v1/load)."""
        catalog = self._catalog()
        now = self._clock()
        rows = []
        for model in catalog.models.values():
            state = self._states.get(model.id)
            a, b = (1.0, 1.0) if state is None else state.posterior(now, self._tuning.decay_rate)
            view = self.load.latency(model.id)
            n = self.load.inflight(model.id)
            rows.append(
                {
                    "model_id": model.id,
                    "status": model.status,
                    "in_flight": n,
                    "capacity": model.capacity,
                    "utilization": n / model.capacity if model.capacity > 0 else 1.0,
                    "ewma_latency_ms": None if view is None else view.ewma_latency_ms,
                    "success_mean": a / (a + b),
                    "breaker": CLOSED if state is None else state.phase(now),
                }
            )
        return rows
