"""The route decision: cached ranking -> live filter -> strategy -> decision with fallbacks.

Hot path budget: a few tens of microseconds. No database, no logging, no numpy, and no lock but
the ranking cache's, the quotas' and the load tracker's check-and-add; learned state is read
lock-free (app.routing.learning). Everything slow (ranking on a cache miss, learning from
outcomes, expiry of lost requests, health seeding) happens off the common path or in the outcome
handler.

The router, its LoadTracker and its RankingCache must share one clock.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from itertools import chain

from app.ids import new_decision_id_with_time
from app.routing.cache import RankingCache, size_bucket
from app.routing.catalog import Assignment, Catalog
from app.routing.cooldown import BreakerRules
from app.routing.decision import Decision, NoModelAvailable, UnknownAgent, UnknownStrategy
from app.routing.learning import Learner
from app.routing.live import add_assigned, live_filter, why_none
from app.routing.load import LoadTracker
from app.routing.quota import Quotas
from app.routing.ranking import Candidate, Ranker, Ranking
from app.routing.strategies import STRATEGIES, Signals, Tuning

_ALL = 1 << 30


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
        quotas: Quotas | None = None,
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
        self._max_fallbacks = max_fallbacks
        self._tuning = tuning or Tuning()
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng if rng is not None else random.Random()
        self._ranker = Ranker()
        rules = BreakerRules(
            cooldown_failures, cooldown_error_rate, error_rate_min_samples, cooldown_seconds
        )
        self._learner = Learner(rules, error_rate_window, self._tuning.decay_rate, prior_weight)
        self._signals = Signals(load, self._learner.states, self._tuning, self._rng)
        self._expire_every = expire_every_s
        self._next_expire = clock() + expire_every_s
        self.quotas = quotas or Quotas(1.0, 1.0)
        self._capacity: tuple[Catalog | None, int] = (None, 0)  # (catalog, its total capacity)

    # -- route ----------------------------------------------------------------------------------

    def route(
        self,
        agent_id: str,
        task_type: str | None = None,
        prompt_tokens: int = 0,
        strategy: str | None = None,
        key_id: str | None = None,
    ) -> Decision:
        """Choose a model for one request of `agent_id` and count it in flight, under the API
        key `key_id` too (app.routing.quota).

        Raises UnknownAgent, UnknownStrategy, QuotaExceeded, or NoModelAvailable (with the
        reason).
        """
        now = self._clock()
        if now >= self._next_expire:
            self.expire(now)
        name = strategy or self.default_strategy
        pick = STRATEGIES.get(name)
        if pick is None:
            raise UnknownStrategy(f"unknown strategy {name!r}; one of {sorted(STRATEGIES)}")
        catalog, task_type, ranking, cache_hit = self._ranking(agent_id, task_type, prompt_tokens)
        assignment = catalog.assignments.get(agent_id)
        # adaptive weighs the best few by capability; assigned needs the assignment + fallbacks
        limit = self._tuning.top_k if name == "adaptive" else _ALL
        if name == "assigned":
            limit = self._max_fallbacks + 1
        live, spare, probes = live_filter(
            ranking, prompt_tokens, now, limit, self._learner, self.load
        )
        if name == "assigned" and assignment is not None:
            add_assigned(
                live, probes, ranking, prompt_tokens, now, assignment, self._learner, self.load
            )
        decision_id, decided_at = new_decision_id_with_time()
        self.quotas.hold(decision_id, key_id, agent_id, self._total_capacity(catalog))
        chosen, reason = self._pick(pick, live, probes, decision_id, now, assignment)
        if chosen is None:
            self.quotas.release(decision_id)
            raise NoModelAvailable(why_none(ranking, prompt_tokens, agent_id, now, self._learner))
        is_probe = chosen.model_id in probes
        if is_probe:
            reason += "; half-open probe after cooldown"
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
            fallbacks=self._fallbacks(live, spare, chosen, probes),
            strategy=name,
            score=chosen.capability,
            cache_hit=cache_hit,
            reason=reason,
            decided_at=decided_at,
            probe=is_probe,
        )

    def _total_capacity(self, catalog: Catalog) -> int:
        """In-flight slots of the catalog's active models, computed once per catalog snapshot."""
        known, total = self._capacity
        if known is not catalog:
            total = sum(m.capacity for m in catalog.models.values() if m.active)
            self._capacity = (catalog, total)
        return total

    def _ranking(
        self, agent_id: str, task_type: str | None, prompt_tokens: int
    ) -> tuple[Catalog, str | None, Ranking, bool]:
        """(catalog, effective task type, ranking, cache hit) for a request."""
        catalog = self._catalog()
        agent = catalog.agents.get(agent_id)
        if agent is None or agent.status != "active":
            raise UnknownAgent(f"unknown or inactive agent {agent_id!r}")
        if task_type is None:
            task_type = agent.task_type
        key = (agent_id, task_type, size_bucket(prompt_tokens))
        ranking = self.cache.get(key)
        if ranking is not None and ranking.catalog_version == catalog.version:
            return catalog, task_type, ranking, True
        catalog, ranking = self._rank(key)
        return catalog, task_type, ranking, False

    def _fallbacks(
        self, live: list[Candidate], spare: list[Candidate], chosen: Candidate, probes: set[str]
    ) -> list[dict]:
        """Up to max_fallbacks others: live ones in ranking order, then full ones; no probes."""
        fallbacks: list[dict] = []
        if self._max_fallbacks:
            for c in chain(live, spare):
                if c is not chosen and c.model_id not in probes:
                    fallbacks.append({"model_id": c.model_id, "endpoint": c.endpoint})
                    if len(fallbacks) == self._max_fallbacks:
                        break
        return fallbacks

    def _rank(self, key: tuple) -> tuple[Catalog, Ranking]:
        """Cache miss: compute and store the ranking (generation taken before the catalog read)."""
        generation = self.cache.generation()
        catalog = self._catalog()
        agent = catalog.agents.get(key[0])
        if agent is None or agent.status != "active":
            raise UnknownAgent(f"unknown or inactive agent {key[0]!r}")
        ranking = self._ranker.rank(catalog, agent, key[1], key[2])
        self.cache.put(key, ranking, ranking.model_ids, generation)
        return catalog, ranking

    def _pick(
        self,
        pick,
        live: list[Candidate],
        probes: set[str],
        decision_id: str,
        now: float,
        assignment: Assignment | None,
    ) -> tuple[Candidate | None, str]:
        """Run the strategy; take the pick's slot (and probe) atomically, retry on a lost race."""
        while live:
            chosen, reason = pick(live, self._signals, now, assignment)
            is_probe = chosen.model_id in probes
            if not is_probe or self._learner.claim_probe(chosen.model_id, decision_id, now):
                if self.load.try_start(decision_id, chosen.model_id, chosen.capacity):
                    return chosen, reason
                if is_probe:
                    self._learner.release_probe(chosen.model_id, decision_id)
            live.remove(chosen)  # its last slot or its probe went to another thread
        return None, ""

    # -- learning -------------------------------------------------------------------------------

    def record_outcome(
        self, decision_id: str | None, model_id: str, success: bool, latency_ms: float
    ) -> bool:
        """Release the request's load and learn from its outcome.

        Returns False, learning nothing, when the decision is not in flight here (unknown,
        already recorded, or expired: expiry already counted it as a failure). With
        `decision_id=None` the outcome is learned without touching in-flight counts: the API
        does that for a first outcome (the database accepted it) of a decision another host
        made, which that host will release through `reconcile`.
        """
        if decision_id is not None:
            if not self.load.finish(decision_id, success, latency_ms):
                return False
            self.quotas.release(decision_id)
        else:
            self.load.observe(model_id, success, latency_ms)
        self._learner.learn(model_id, decision_id, bool(success), self._clock())
        return True

    def abandon(self, decision_id: str, model_id: str) -> bool:
        """Forget a decision that was never acknowledged (the writer refused it): release its
        load and its half-open probe, and learn nothing about the model."""
        self._learner.release_probe(model_id, decision_id)
        self.quotas.release(decision_id)
        return self.load.cancel(decision_id)

    def expire(self, now: float | None = None) -> int:
        """Expire in-flight requests whose outcome never came; route calls it about once a
        second. A client that never reports has abandoned its request, which says nothing about
        the model: an expiry frees the slot (and a half-open probe, so another may go) and
        teaches neither the posterior nor the breaker (issue 14: a flood of unreported routes
        cooled every model down)."""
        now = self._clock() if now is None else now
        self._next_expire = now + self._expire_every
        expired = self.load.expire()
        for e in expired:
            self._learner.release_probe(e.model_id, e.decision_id)
            self.quotas.release(e.decision_id)
        return len(expired)

    def reconcile(
        self,
        fetch_outcomes: Callable[[list[str]], Mapping[str, tuple[bool, float]]],
        older_than_s: float = 5.0,
        limit: int = 500,
    ) -> int:
        """Finish requests whose outcome was recorded by another host; returns how many.

        Behind a load balancer the outcome of a decision made here may be posted to another
        host. It is stored in the database all the same, so a background loop calls this with
        `fetch_outcomes(decision_ids) -> {decision_id: (success, latency_ms)}` (a database
        lookup) for requests open here longer than `older_than_s`; each one found is released
        and learned exactly as if it had arrived here.
        """
        open_here = self.load.open_older_than(older_than_s, limit)
        if not open_here:
            return 0
        found = fetch_outcomes([decision_id for decision_id, _ in open_here])
        done = 0
        for decision_id, model_id in open_here:
            outcome = found.get(decision_id)
            if outcome is not None and self.record_outcome(decision_id, model_id, *outcome):
                done += 1
        return done

    def set_health(self, health: dict[str, dict]) -> None:
        """Seed priors from V_MODEL_HEALTH: {model_id: {success_rate, avg_latency_ms, requests}}.

        Called by the background health refresh, so a restarted process starts from the fleet's
        recent record rather than from nothing: up to `prior_weight` pseudo-outcomes at the
        observed success rate, and the observed latency as the latency prior.
        """
        self._learner.seed(health)

    # -- reporting ------------------------------------------------------------------------------

    def cooldowns(self) -> list[dict]:
        """Models not at full traffic: {model_id, state cooling|half_open, until, until_utc,
        reason, probe_in_flight}; `until` is on the monotonic clock, `until_utc` ISO 8601."""
        return self._learner.cooldowns(self._clock(), self._wall_clock())

    def model_status(self) -> list[dict]:
        """Per catalog model: load, learned success and latency, breaker (GET /api/v1/load)."""
        now = self._clock()
        rows = []
        for model in self._catalog().models.values():
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
                    "success_mean": self._learner.success_mean(model.id, now),
                    "breaker": self._learner.phase(model.id, now),
                }
            )
        return rows


__all__ = ["Decision", "NoModelAvailable", "Router", "UnknownAgent", "UnknownStrategy"]
