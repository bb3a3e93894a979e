"""Route decision benchmark: what one in-process `Router.route` costs, per strategy and fleet size.

The route step sits on every request, so it must stay far below a network hop: targets are a
median of 20 us with 8 candidate models and 50 us with 100 (a popular Python gateway spends
100-300 us on its routing step). Each call is timed alone with perf_counter_ns; its outcome is
recorded outside the timed region (random success and latency), so load, posteriors and EWMAs
are populated as in service and nothing fills up. The cache is warm, as in service (one miss per
agent, size bucket and catalog change); the miss itself is timed in its own row. GC stays on.

`main()` prints a table and returns the figures; bounded by --calls per row (about 10 s in all).
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import statistics
import threading
import time
from array import array

from app.routing import STRATEGIES, AgentView, Catalog, ModelView, Router
from app.routing.cache import RankingCache
from app.routing.load import LoadTracker

TARGET_MEDIAN_US = {8: 20.0, 100: 50.0}
CAPABILITIES = ("coding", "reasoning", "summarization", "chat")


def fleet(n_models: int, seed: int = 1) -> Catalog:
    """n models with varied capabilities, contexts and capacities; 20 agents."""
    rng = random.Random(seed)
    models = [
        ModelView(
            f"model-{i:03d}",
            f"https://llm-{i:03d}.internal/v1",
            context_window=rng.choice([8_000, 32_000, 128_000, 200_000]),
            capacity=rng.choice([16, 32, 64, 128]),
            cost=rng.uniform(0.1, 15.0),
            prior_latency_ms=rng.uniform(200, 2500),
            capabilities={c: rng.uniform(0.4, 0.98) for c in CAPABILITIES},
        )
        for i in range(n_models)
    ]
    agents = [
        AgentView(
            f"agent-{j:02d}",
            rng.choice(CAPABILITIES),
            {c: rng.choice([0.0, 0.5, 1.0]) for c in CAPABILITIES},
        )
        for j in range(20)
    ]
    return Catalog.build(models, agents)


def _router(catalog: Catalog, strategy: str) -> Router:
    return Router(
        lambda: catalog,
        LoadTracker(300),
        RankingCache(3600, 10_000),
        default_strategy=strategy,
        rng=random.Random(7),
    )


def time_routes(n_models: int, strategy: str, calls: int, rounds: int) -> dict:
    """Median and p99 of one route call, in microseconds.

    The calls are split into `rounds`; the median reported is the lowest round median (as
    timeit reports the best of its repeats: other processes on the machine only ever add time),
    and the p99 is over every call of every round.
    """
    catalog = fleet(n_models)
    router = _router(catalog, strategy)
    rng = random.Random(3)
    agents = list(catalog.agents)
    for agent in agents:  # warm: one miss per agent
        d = router.route(agent, prompt_tokens=2000)
        router.record_outcome(d.decision_id, d.model_id, True, 500)
    clock = time.perf_counter_ns
    route, record = router.route, router.record_outcome
    every = array("q")
    medians = []
    for _ in range(rounds):
        samples = array("q")
        for i in range(calls // rounds):
            agent = agents[i % len(agents)]
            start = clock()
            d = route(agent, None, 2000)
            samples.append(clock() - start)
            record(d.decision_id, d.model_id, rng.random() < 0.97, rng.uniform(200, 1500))
        medians.append(statistics.median(samples) / 1000.0)
        every.extend(samples)
    summary = _summary(every)
    summary["median_us"] = min(medians)
    summary["median_all_us"] = statistics.median(every) / 1000.0
    return summary


def time_misses(n_models: int, calls: int) -> dict:
    """A cache miss: ranking computed with the capability scorer, then the route."""
    catalog = fleet(n_models)
    router = _router(catalog, "adaptive")
    samples = array("q")
    agents = list(catalog.agents)
    for i in range(calls):
        router.cache.invalidate_all()
        start = time.perf_counter_ns()
        d = router.route(agents[i % len(agents)], None, 2000)
        samples.append(time.perf_counter_ns() - start)
        router.record_outcome(d.decision_id, d.model_id, True, 500)
    return _summary(samples)


def throughput(n_models: int, threads: int, seconds: float) -> float:
    """Decisions (route + outcome) per second with `threads` threads sharing one router."""
    catalog = fleet(n_models)
    router = _router(catalog, "adaptive")
    agents = list(catalog.agents)
    done = [0] * threads
    stop = threading.Event()
    barrier = threading.Barrier(threads + 1)

    def worker(k: int) -> None:
        barrier.wait()
        n = 0
        while not stop.is_set():
            d = router.route(agents[(k + n) % len(agents)], None, 2000)
            router.record_outcome(d.decision_id, d.model_id, True, 500)
            n += 1
        done[k] = n

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    time.sleep(seconds)
    stop.set()
    for w in workers:
        w.join()
    return sum(done) / seconds


def _summary(samples: array) -> dict:
    ordered = sorted(samples)
    return {
        "calls": len(ordered),
        "median_us": statistics.median(ordered) / 1000.0,
        "p99_us": ordered[int(0.99 * (len(ordered) - 1))] / 1000.0,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.route_decision")
    parser.add_argument("--calls", type=int, default=20_000, help="timed routes per row")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per row (best median)")
    parser.add_argument("--seconds", type=float, default=1.0, help="throughput run length")
    args = parser.parse_args(argv)
    gc.collect()
    routing_log = logging.getLogger("app.routing")
    level = routing_log.level
    routing_log.setLevel(logging.ERROR)  # chance cooldowns (3% failures) are not news here
    try:
        return _run(args)
    finally:
        routing_log.setLevel(level)


def _run(args: argparse.Namespace) -> dict:
    rows = []
    print(f"median: best of {args.rounds} rounds; p99: all calls; GC on; warm cache")
    print(f"{'models':>6} {'strategy':<13} {'median us':>10} {'p99 us':>9} {'target':>8}  met")
    for n_models in (8, 100):
        target = TARGET_MEDIAN_US[n_models]
        for strategy in STRATEGIES:
            r = time_routes(n_models, strategy, args.calls, args.rounds)
            r.update(
                models=n_models,
                strategy=strategy,
                target_median_us=target,
                met=r["median_us"] <= target,
            )
            rows.append(r)
            print(
                f"{n_models:>6} {strategy:<13} {r['median_us']:>10.1f} {r['p99_us']:>9.1f} "
                f"{'<= ' + format(target, 'g'):>8}  {'yes' if r['met'] else 'NO'}"
            )
    misses = {}
    for n_models in (8, 100):
        m = time_misses(n_models, max(200, args.calls // 50))
        misses[n_models] = m
        print(
            f"{n_models:>6} {'cache miss':<13} {m['median_us']:>10.1f} {m['p99_us']:>9.1f}"
            f" {'-':>8}  (ranking computed with app.scoring)"
        )
    rates = {t: throughput(8, t, args.seconds) for t in (1, 8)}
    for t, rate in rates.items():
        print(f"throughput, 8 models, {t} thread(s): {rate:,.0f} decisions/s (route + outcome)")
    default = [r for r in rows if r["strategy"] == "adaptive"]
    return {
        "rows": rows,
        "cache_miss": misses,
        "throughput_per_s": rates,
        "targets_met": all(r["met"] for r in rows),
        "default_strategy_met": all(r["met"] for r in default),
    }


if __name__ == "__main__":
    main()
