"""Fleet simulation: the real Router against round-robin and random on a fleet that misbehaves.

A discrete-event simulation in simulated time (the Router, its LoadTracker and cache run on an
injected clock, so ten simulated minutes take seconds):

- 8 models of different capacity (concurrent slots), speed, capability and failure probability.
  Below capacity a model slows mildly with load (batching); past capacity requests queue FIFO,
  so latency grows with the queue.
- Open-loop Poisson arrivals from 3 agents with different requirements and prompt sizes (large
  prompts fit only the long-context models).
- Incidents: the most capable model slows to 10x for a minute; later another model fails fast
  (95% failures in 50 ms) for a minute.
- Every request is routed at arrival and its outcome is scheduled at completion and fed back
  (`record_outcome`) with the model-side latency. When the router has no model free (every
  candidate at capacity), the client retries after 100 ms and gives up after 30 s (a failure).

Round-robin and random are baselines implemented here only: they pick among the same candidates
(feasible for the agent, context fitting) but know nothing of load, capacity or health, like a
naive gateway. least_loaded, p2c and adaptive are the real strategies. Every strategy sees the
same requests: arrival times, agents, prompt sizes, and each request's random draws (service-time
noise, failure draw) come from one seeded stream, so differences come from routing alone.

Latency percentiles are over successful requests, from arrival to answer (time to a good answer;
fast failures must not flatter a strategy). Success rate is successes / arrivals.
"""

from __future__ import annotations

import argparse
import heapq
import logging
import math
import random
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from app.routing import AgentView, Catalog, ModelView, NoModelAvailable, Router
from app.routing.cache import RankingCache, size_bucket
from app.routing.load import LoadTracker
from app.routing.ranking import Ranker

RETRY_S = 0.1
GIVE_UP_S = 30.0
TARGET_P99_CUT = 0.40  # adaptive p99 at least 40% below round-robin
STRATEGIES = ("round_robin", "random", "least_loaded", "p2c", "adaptive")


@dataclass(frozen=True)
class Spec:
    """A simulated model: slots, median latency, failure probability, context, capabilities."""

    id: str
    capacity: int
    latency_ms: float
    p_fail: float
    context: int
    caps: dict


FLEET = (
    Spec("atlas", 8, 500, 0.010, 128_000, {"coding": 0.95, "reasoning": 0.93, "chat": 0.90}),
    Spec("boreal", 8, 400, 0.005, 32_000, {"coding": 0.90, "reasoning": 0.86, "chat": 0.88}),
    Spec("cirrus", 16, 800, 0.020, 200_000, {"coding": 0.86, "reasoning": 0.92, "chat": 0.84}),
    Spec("delta", 4, 250, 0.010, 16_000, {"coding": 0.80, "reasoning": 0.75, "chat": 0.90}),
    Spec("ember", 12, 600, 0.030, 64_000, {"coding": 0.88, "reasoning": 0.84, "chat": 0.82}),
    Spec("fjord", 24, 1200, 0.010, 128_000, {"coding": 0.78, "reasoning": 0.85, "chat": 0.80}),
    Spec("gale", 6, 300, 0.020, 8_000, {"coding": 0.82, "reasoning": 0.70, "chat": 0.86}),
    Spec("harbor", 10, 700, 0.040, 32_000, {"coding": 0.76, "reasoning": 0.78, "chat": 0.79}),
)
AGENTS = (
    AgentView("coder", "coding", {"coding": 1.0, "reasoning": 0.5}),
    AgentView("analyst", "reasoning", {"reasoning": 1.0, "chat": 0.3}),
    AgentView("helpdesk", "chat", {"chat": 1.0}),
)
SLOW_MODEL, FAILING_MODEL = "atlas", "boreal"


@dataclass
class Scenario:
    seed: int = 42
    rate_per_s: float = 80.0
    duration_s: float = 600.0
    slow_from: float = 150.0
    slow_to: float = 210.0
    fail_from: float = 360.0
    fail_to: float = 420.0

    def slowdown(self, model_id: str, t: float) -> float:
        return 10.0 if model_id == SLOW_MODEL and self.slow_from <= t < self.slow_to else 1.0

    def failing_fast(self, model_id: str, t: float) -> bool:
        return model_id == FAILING_MODEL and self.fail_from <= t < self.fail_to


@dataclass
class Request:
    arrival: float
    agent: str
    tokens: int
    noise: float  # lognormal service-time factor
    u: float  # failure draw


def make_requests(sc: Scenario) -> list[Request]:
    rng = np.random.default_rng(sc.seed)
    n = int(sc.rate_per_s * sc.duration_s * 1.2)
    arrivals = np.cumsum(rng.exponential(1.0 / sc.rate_per_s, n))
    arrivals = arrivals[arrivals < sc.duration_s]
    n = len(arrivals)
    agents = rng.integers(0, len(AGENTS), n)
    tokens = np.minimum(rng.lognormal(math.log(2000), 1.2, n), 150_000).astype(int)
    noise = rng.lognormal(0.0, 0.25, n)
    u = rng.random(n)
    return [
        Request(
            float(arrivals[i]), AGENTS[agents[i]].id, int(tokens[i]), float(noise[i]), float(u[i])
        )
        for i in range(n)
    ]


def catalog() -> Catalog:
    models = [
        ModelView(
            s.id,
            f"https://{s.id}.sim/v1",
            s.context,
            s.capacity,
            prior_latency_ms=s.latency_ms,
            capabilities=s.caps,
        )
        for s in FLEET
    ]
    return Catalog.build(models, AGENTS)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- policies: the real router, and the two baselines ---------------------------------------------


class RouterPolicy:
    def __init__(self, strategy: str, cat: Catalog, clock: Clock, seed: int) -> None:
        self.router = Router(
            lambda: cat,
            LoadTracker(300, clock=clock),
            RankingCache(60, 1000, clock=clock),
            default_strategy=strategy,
            clock=clock,
            rng=random.Random(seed),
        )

    def choose(self, req: Request):
        try:
            d = self.router.route(req.agent, prompt_tokens=req.tokens)
        except NoModelAvailable:
            return None
        return d.model_id, d.decision_id, d.score

    def outcome(self, decision_id, model_id, success, latency_ms) -> None:
        self.router.record_outcome(decision_id, model_id, success, latency_ms)


class BaselinePolicy:
    """Round-robin or uniform random over the feasible, context-fitting candidates."""

    def __init__(self, kind: str, cat: Catalog, seed: int) -> None:
        self.kind = kind
        self.cat = cat
        self.ranker = Ranker()
        self.rankings: dict = {}
        self.turn: dict = {}
        self.rng = random.Random(seed)

    def choose(self, req: Request):
        key = (req.agent, size_bucket(req.tokens))
        ranking = self.rankings.get(key)
        if ranking is None:
            agent = self.cat.agents[req.agent]
            ranking = self.rankings[key] = self.ranker.rank(self.cat, agent, None, key[1])
        fits = [c for c in ranking.candidates if c.context_window >= req.tokens]
        if not fits:
            return None
        if self.kind == "random":
            c = fits[self.rng.randrange(len(fits))]
        else:
            i = self.turn.get(key, 0)
            self.turn[key] = i + 1
            c = fits[i % len(fits)]
        return c.model_id, None, c.capability

    def outcome(self, decision_id, model_id, success, latency_ms) -> None:
        pass


# -- the simulation -----------------------------------------------------------------------------


@dataclass
class Server:
    spec: Spec
    busy: int = 0
    queue: deque = field(default_factory=deque)


@dataclass
class Result:
    strategy: str
    latencies: list = field(default_factory=list)  # successful requests, seconds
    successes: int = 0
    failures: int = 0
    gave_up: int = 0
    retries: int = 0
    capability: list = field(default_factory=list)
    per_model: dict = field(default_factory=dict)
    records: list = field(default_factory=list)  # (arrival s, latency s, model, success)


def simulate(strategy: str, sc: Scenario, requests: list[Request]) -> Result:
    clock = Clock()
    cat = catalog()
    if strategy in ("round_robin", "random"):
        policy = BaselinePolicy(strategy, cat, sc.seed)
    else:
        policy = RouterPolicy(strategy, cat, clock, sc.seed)
    servers = {s.id: Server(s) for s in FLEET}
    result = Result(strategy)
    events: list = [(r.arrival, i, "arrive", i, None) for i, r in enumerate(requests)]
    heapq.heapify(events)
    seq = len(requests)

    def start_service(model_id, i, decision_id, dispatched, t):
        nonlocal seq
        server, req = servers[model_id], requests[i]
        server.busy += 1
        if sc.failing_fast(model_id, t) and req.u < 0.95:
            service, ok = 0.05 * req.noise, False
        else:
            load = 1.0 + 0.3 * min(server.busy, server.spec.capacity) / server.spec.capacity
            service = server.spec.latency_ms / 1000.0 * req.noise * load
            service *= sc.slowdown(model_id, t)
            ok = req.u >= server.spec.p_fail
        seq += 1
        heapq.heappush(
            events, (t + service, seq, "done", i, (model_id, decision_id, dispatched, ok))
        )

    while events:
        t, _, kind, i, info = heapq.heappop(events)
        clock.now = t
        req = requests[i]
        if kind == "done":
            model_id, decision_id, dispatched, ok = info
            server = servers[model_id]
            server.busy -= 1
            policy.outcome(decision_id, model_id, ok, (t - dispatched) * 1000.0)
            result.records.append((req.arrival, t - req.arrival, model_id, ok))
            if ok:
                result.successes += 1
                result.latencies.append(t - req.arrival)
            else:
                result.failures += 1
            if server.queue:
                j, did, disp = server.queue.popleft()
                start_service(model_id, j, did, disp, t)
            continue
        pick = policy.choose(req)
        if pick is None:
            if t - req.arrival + RETRY_S > GIVE_UP_S:
                result.gave_up += 1
                continue
            result.retries += 1
            seq += 1
            heapq.heappush(events, (t + RETRY_S, seq, "retry", i, None))
            continue
        model_id, decision_id, capability = pick
        result.capability.append(capability)
        result.per_model[model_id] = result.per_model.get(model_id, 0) + 1
        server = servers[model_id]
        if server.busy < server.spec.capacity:
            start_service(model_id, i, decision_id, t, t)
        else:
            server.queue.append((i, decision_id, t))
    return result


def summarize(strategy: str, results: list[Result], arrivals: int) -> dict:
    """Figures of one strategy pooled over all seeds."""
    lat = np.array([x for r in results for x in r.latencies]) * 1000.0
    p50, p95, p99 = (float(np.percentile(lat, q)) for q in (50, 95, 99))
    chosen = [c for r in results for c in r.capability]
    per_model: dict = {}
    for r in results:
        for m, n in r.per_model.items():
            per_model[m] = per_model.get(m, 0) + n
    return {
        "strategy": strategy,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "success_rate": sum(r.successes for r in results) / arrivals,
        "failures": sum(r.failures for r in results),
        "gave_up": sum(r.gave_up for r in results),
        "retries": sum(r.retries for r in results),
        "mean_capability": float(np.mean(chosen)) if chosen else 0.0,
        "share": {m: n / max(1, len(chosen)) for m, n in sorted(per_model.items())},
        "p99_ms_per_seed": [
            float(np.percentile(np.array(r.latencies) * 1000.0, 99)) for r in results
        ],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.simulate")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[42, 43, 44],
        help="one run per seed, the same seeds for every strategy",
    )
    parser.add_argument("--rate", type=float, default=80.0, help="arrivals per simulated second")
    parser.add_argument("--duration", type=float, default=600.0, help="simulated seconds")
    args = parser.parse_args(argv)
    scenarios = [
        Scenario(seed=s, rate_per_s=args.rate, duration_s=args.duration) for s in args.seeds
    ]
    workloads = [(sc, make_requests(sc)) for sc in scenarios]
    arrivals = sum(len(reqs) for _, reqs in workloads)
    routing_log = logging.getLogger("app.routing")
    level = routing_log.level
    routing_log.setLevel(logging.ERROR)  # cooldown warnings would flood the table
    try:
        rows = [
            summarize(s, [simulate(s, sc, reqs) for sc, reqs in workloads], arrivals)
            for s in STRATEGIES
        ]
    finally:
        routing_log.setLevel(level)
    sc = scenarios[0]
    print(
        f"{arrivals} requests: seeds {args.seeds} x {sc.duration_s:.0f} simulated s at "
        f"{sc.rate_per_s:g}/s; {SLOW_MODEL} 10x slow {sc.slow_from:.0f}-{sc.slow_to:.0f} s, "
        f"{FAILING_MODEL} failing fast {sc.fail_from:.0f}-{sc.fail_to:.0f} s"
    )
    print(
        f"{'strategy':<13} {'p50 ms':>8} {'p95 ms':>9} {'p99 ms':>9} {'success':>8} "
        f"{'gave up':>7} {'capability':>10}"
    )
    for r in rows:
        print(
            f"{r['strategy']:<13} {r['p50_ms']:>8.0f} {r['p95_ms']:>9.0f} {r['p99_ms']:>9.0f} "
            f"{r['success_rate']:>8.2%} {r['gave_up']:>7} {r['mean_capability']:>10.3f}"
        )
    by = {r["strategy"]: r for r in rows}
    adaptive = by["adaptive"]
    cut = 1.0 - adaptive["p99_ms"] / by["round_robin"]["p99_ms"]
    best_other = max(r["success_rate"] for r in rows if r["strategy"] != "adaptive")
    p99_met = cut >= TARGET_P99_CUT
    success_met = adaptive["success_rate"] >= best_other
    print(
        f"adaptive p99 is {cut:.0%} below round-robin (target >= {TARGET_P99_CUT:.0%}): "
        f"{'met' if p99_met else 'NOT met'}"
    )
    print(
        f"adaptive success {adaptive['success_rate']:.2%} vs best other {best_other:.2%} "
        f"(target: at least as high): {'met' if success_met else 'NOT met'}"
    )
    return {
        "seeds": args.seeds,
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "requests": arrivals,
        "rows": rows,
        "p99_cut_vs_round_robin": cut,
        "p99_target_met": p99_met,
        "success_target_met": success_met,
    }


if __name__ == "__main__":
    main()
