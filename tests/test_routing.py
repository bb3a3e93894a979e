"""Route decisions on constructed fleets: strategies, cooldowns, probes, fallbacks, errors, ids."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from support import FakeClock

from app.api.schemas import RouteOut
from app.ids import decision_time, is_decision_id, new_decision_id, new_decision_id_with_time
from app.routing import (
    AgentView,
    Assignment,
    Catalog,
    ModelView,
    NoModelAvailable,
    Router,
    UnknownAgent,
    UnknownStrategy,
)
from app.routing.cache import RankingCache
from app.routing.load import LoadTracker


def model(mid: str, coding: float = 0.8, **kw) -> ModelView:
    return ModelView(
        mid,
        f"http://{mid}.local/v1",
        kw.pop("context", 32_000),
        kw.pop("capacity", 8),
        prior_latency_ms=kw.pop("latency", 400.0),
        capabilities={"coding": coding, **kw.pop("caps", {})},
        **kw,
    )


AGENT = AgentView("agent", "coding", {"coding": 1.0})


def build(models, agents=(AGENT,), assignments=(), *, seed=7, **kw):
    clock = FakeClock()
    catalog = Catalog.build(models, agents, assignments)
    load = LoadTracker(kw.pop("inflight_timeout_s", 120.0), clock=clock)
    cache = RankingCache(60, 1000, clock=clock)
    router = Router(lambda: catalog, load, cache, clock=clock, rng=random.Random(seed), **kw)
    return router, clock


def route_and_finish(router, n, outcome, **route_kw) -> Counter:
    """Route n requests, each answered at once by outcome(model_id) -> (success, latency_ms)."""
    chosen: Counter = Counter()
    for _ in range(n):
        d = router.route("agent", **route_kw)
        chosen[d.model_id] += 1
        ok, latency = outcome(d.model_id)
        assert router.record_outcome(d.decision_id, d.model_id, ok, latency) is True
    return chosen


def healthy(model_id):
    return True, 300.0


# -- decision shape ---------------------------------------------------------------------------


def test_decision_fields_and_api_body():
    router, _ = build(
        [model("a", 0.9), model("b", 0.8), model("c", 0.7)],
        assignments=[Assignment("agent", "a", "as-1", 0.9)],
        default_strategy="assigned",
    )
    d = router.route("agent", prompt_tokens=1200)
    assert (d.model_id, d.endpoint, d.assignment_id) == ("a", "http://a.local/v1", "as-1")
    assert (d.agent_id, d.task_type, d.strategy, d.cache_hit) == (
        "agent",
        "coding",
        "assigned",
        False,
    )
    assert d.score == pytest.approx(0.9)
    assert d.reason == "assigned: active assignment as-1 (score 0.90)"
    assert [f["model_id"] for f in d.fallbacks] == ["b", "c"]
    assert d.decided_at == decision_time(d.decision_id)
    assert d.decided_at.tzinfo is UTC
    body = d.to_dict()
    assert set(body) >= set(RouteOut.model_fields)  # what the API answers comes from here
    assert body["decided_at"] == d.decided_at.isoformat()
    assert router.route("agent", prompt_tokens=1500).cache_hit is True  # same size bucket


def test_adaptive_reason_is_readable():
    router, _ = build([model("a", 0.92, capacity=8)])
    d = router.route("agent")
    assert d.strategy == "adaptive"
    assert d.reason.startswith("adaptive: best expected value ")
    assert "capability 0.92" in d.reason and "latency 400 ms" in d.reason
    assert "load 0/8" in d.reason


def test_unknown_and_inactive_agent():
    router, _ = build([model("a")], agents=[AGENT, AgentView("off", status="disabled")])
    with pytest.raises(UnknownAgent):
        router.route("nobody")
    with pytest.raises(UnknownAgent):
        router.route("off")
    with pytest.raises(UnknownStrategy):
        router.route("agent", strategy="round_robin")


def test_no_model_available_says_why():
    router, _ = build([model("a", capacity=1, context=4000), model("b", status="draining")])
    d = router.route("agent", prompt_tokens=100)
    assert d.model_id == "a"  # the draining model is never a candidate
    with pytest.raises(NoModelAvailable, match="1 at capacity"):
        router.route("agent", prompt_tokens=100)
    router.load.finish(d.decision_id, True, 1)
    with pytest.raises(NoModelAvailable, match="1 too small for 4090 tokens"):
        router.route("agent", prompt_tokens=4090)  # bucket (2048, 4096] admits a; exact check
    picky = AgentView("picky", requirements={"coding": 1.0}, min_context=1_000_000)
    router, _ = build([model("a")], agents=[picky])
    with pytest.raises(NoModelAvailable, match="no active model satisfies"):
        router.route("picky")


def test_fallbacks_are_distinct_fitting_active_and_exclude_the_chosen():
    models = [
        model("big", 0.9, context=128_000),
        model("small", 0.95, context=4_000),
        model("off", 0.99, context=128_000, status="disabled"),
        model("mid", 0.7, context=64_000),
        model("full", 0.8, context=128_000, capacity=1),
        model("other", 0.6, context=100_000),
    ]
    router, _ = build(models, default_strategy="assigned", max_fallbacks=5)
    router.load.start("hog", "full")  # "full" is at capacity: fallback material, never chosen
    d = router.route("agent", prompt_tokens=50_000)
    assert d.model_id == "big"
    # live ones in ranking order first, then the full one; never too small, never inactive
    assert [f["model_id"] for f in d.fallbacks] == ["mid", "other", "full"]
    assert d.fallbacks[0] == {"model_id": "mid", "endpoint": "http://mid.local/v1"}
    for strategy in ("assigned", "least_loaded", "p2c", "adaptive"):
        for _ in range(20):
            d = router.route("agent", prompt_tokens=50_000, strategy=strategy)
            ids = [f["model_id"] for f in d.fallbacks]
            assert len(ids) == len(set(ids)) == 3
            assert d.model_id in {"big", "mid", "other"}
            assert set(ids) == {"big", "mid", "other", "full"} - {d.model_id}
            router.load.finish(d.decision_id, True, 1)
    small = router.route("agent", prompt_tokens=1_000)  # a small prompt may use "small"
    assert small.model_id == "small"
    assert [f["model_id"] for f in small.fallbacks] == ["big", "mid", "other", "full"]


def test_task_type_emphasises_that_capability():
    coder = model("coder", 0.9, caps={"summarization": 0.3})
    writer = model("writer", 0.7, caps={"summarization": 0.95})
    router, _ = build([coder, writer], default_strategy="assigned")
    assert router.route("agent").model_id == "coder"
    d = router.route("agent", task_type="summarization")
    assert (d.model_id, d.task_type) == ("writer", "summarization")


# -- strategies ---------------------------------------------------------------------------------


def test_least_loaded_spreads_ties_at_random():
    router, _ = build([model(f"m{i}") for i in range(4)], default_strategy="least_loaded")
    chosen = route_and_finish(router, 4000, healthy)
    assert set(chosen) == {"m0", "m1", "m2", "m3"}
    for count in chosen.values():
        assert 0.20 * 4000 <= count <= 0.30 * 4000


def test_least_loaded_prefers_lowest_utilisation():
    router, _ = build(
        [model("a", capacity=4), model("b", capacity=8)], default_strategy="least_loaded"
    )
    picks = [router.route("agent").model_id for _ in range(12)]  # nothing finishes
    assert Counter(picks) == {"a": 4, "b": 8}
    assert router.load.inflight("a") == 4 and router.load.inflight("b") == 8


def test_p2c_picks_the_cheaper_of_two():
    router, _ = build(
        [model("fast", latency=100), model("slow", latency=1000)], default_strategy="p2c"
    )
    picks = Counter(router.route("agent").model_id for _ in range(7))  # 1/8..7/8 x 100 < 1/8 x 1000
    assert picks == {"fast": 7}
    assert "p2c: fast cost" in router.route("agent").reason


def test_adaptive_moves_traffic_away_from_a_model_that_fails_fast():
    router, clock = build(
        [model("flaky", 0.9, latency=300), model("steady", 0.85, latency=300)],
        cooldown_failures=10**6,
        cooldown_error_rate=1.0,  # the breaker stays out of it
    )
    route_and_finish(router, 300, healthy)
    warm = route_and_finish(router, 300, healthy)
    assert warm["flaky"] > 150  # the more capable model leads while both are healthy

    def flaky_fails(mid):
        return (False, 5.0) if mid == "flaky" else (True, 300.0)  # fails in 5 ms

    route_and_finish(router, 200, flaky_fails)
    later = route_and_finish(router, 1000, flaky_fails)
    assert later["flaky"] < 50  # < 5%: fast failures never look attractive
    assert router.load.inflight("flaky") == router.load.inflight("steady") == 0


def test_adaptive_gives_traffic_back_to_a_recovered_model():
    router, clock = build(
        [model("fast", 0.9, latency=200), model("slow", 0.9, latency=800)],
        cooldown_failures=10**6,
        cooldown_error_rate=1.0,
    )

    def fast_broken(mid):
        return (False, 20.0) if mid == "fast" else (True, 800.0)

    broken = route_and_finish(router, 500, fast_broken)
    assert broken["fast"] < 60
    clock.advance(300)  # five half-lives: old failures fade, latency fades back to the prior

    def all_good(mid):
        return (True, 200.0) if mid == "fast" else (True, 800.0)

    route_and_finish(router, 200, all_good)
    recovered = route_and_finish(router, 1000, all_good)
    assert recovered["fast"] > 600


def test_adaptive_avoids_a_slow_model_and_spreads_by_load():
    router, _ = build([model("quick", 0.8, latency=300), model("sluggish", 0.8, latency=3000)])
    chosen = route_and_finish(router, 1000, lambda mid: (True, 300.0 if mid == "quick" else 3000.0))
    assert chosen["quick"] > 800
    # load factor: with quick full, the rest goes to sluggish instead of being refused
    router2, _ = build([model("quick", 0.8, capacity=2), model("sluggish", 0.8, latency=3000)])
    router2.set_health(
        {
            m: {"success_rate": 1.0, "avg_latency_ms": None, "requests": 100}
            for m in ("quick", "sluggish")
        }
    )
    held = [router2.route("agent") for _ in range(5)]
    assert Counter(d.model_id for d in held) == {"quick": 2, "sluggish": 3}


def test_health_seeding_makes_a_restarted_router_avoid_a_known_bad_model():
    router, _ = build([model("bad", 0.9, capacity=500), model("good", 0.85, capacity=500)])
    router.set_health(
        {
            "bad": {"success_rate": 0.2, "avg_latency_ms": 400.0, "requests": 500},
            "good": {"success_rate": 0.99, "avg_latency_ms": 300.0, "requests": 500},
            "unknown": {"success_rate": 0.5, "avg_latency_ms": 1.0, "requests": 0},
        }
    )
    picks = Counter(router.route("agent").model_id for _ in range(200))
    assert picks["good"] > 180
    status = {row["model_id"]: row for row in router.model_status()}
    assert status["bad"]["success_mean"] == pytest.approx(5 / 22)
    assert status["good"]["in_flight"] == picks["good"]


def test_assigned_follows_the_assignment_and_falls_back():
    router, clock = build(
        [model("pinned", 0.7, capacity=2), model("best", 0.9), model("next", 0.8)],
        assignments=[Assignment("agent", "pinned", "as-7", 0.7)],
        default_strategy="assigned",
    )
    held = [router.route("agent") for _ in range(2)]
    assert [(d.model_id, d.assignment_id) for d in held] == [("pinned", "as-7")] * 2
    over = router.route("agent")  # pinned is at capacity
    assert (over.model_id, over.assignment_id) == ("best", None)
    assert "pinned unavailable" in over.reason
    for d in held:
        router.record_outcome(d.decision_id, d.model_id, False, 10)
    router.record_outcome(over.decision_id, over.model_id, True, 10)
    d = router.route("agent")
    router.record_outcome(d.decision_id, "pinned", False, 10)  # third failure: cooled down
    assert [c["model_id"] for c in router.cooldowns()] == ["pinned"]
    assert router.route("agent").model_id == "best"


# -- cooldowns and probes -------------------------------------------------------------------------


def test_cooled_model_gets_no_traffic_until_exactly_one_probe(caplog):
    router, clock = build(
        [model("a", 0.9), model("b", 0.6, capacity=100)],
        assignments=[Assignment("agent", "a", "as-a", 0.9)],
        default_strategy="assigned",
        cooldown_seconds=30,
    )
    with caplog.at_level(logging.WARNING, logger="app.routing"):
        for _ in range(3):
            d = router.route("agent")
            assert d.model_id == "a"
            router.record_outcome(d.decision_id, "a", False, 50)
    assert "model a cooled down for 30 s: 3 consecutive failures" in caplog.text
    [cd] = router.cooldowns()
    assert (cd["model_id"], cd["state"], cd["reason"]) == ("a", "cooling", "3 consecutive failures")
    assert cd["until"] == clock.now + 30
    assert datetime.fromisoformat(cd["until_utc"]) > datetime.now(UTC) + timedelta(seconds=25)

    assert route_and_finish(router, 50, healthy) == {"b": 50}  # cooling: no traffic
    clock.advance(29.9)
    assert route_and_finish(router, 50, healthy) == {"b": 50}
    clock.advance(0.1)
    assert router.cooldowns()[0]["state"] == "half_open"
    probe = router.route("agent")
    assert (probe.model_id, probe.probe) == ("a", True)
    assert probe.reason.endswith("half-open probe after cooldown")
    assert router.cooldowns()[0]["probe_in_flight"] is True
    others = [router.route("agent") for _ in range(20)]  # probe in flight: a excluded
    assert {d.model_id for d in others} == {"b"}
    assert all(f["model_id"] != "a" for d in others for f in d.fallbacks)
    router.record_outcome(probe.decision_id, "a", False, 50)  # probe fails: cooled again
    assert router.cooldowns()[0]["state"] == "cooling"
    assert router.cooldowns()[0]["reason"] == "probe failed"
    assert router.route("agent").model_id == "b"
    clock.advance(30)
    probe = router.route("agent")
    assert (probe.model_id, probe.probe) == ("a", True)
    router.record_outcome(probe.decision_id, "a", True, 50)  # probe succeeds: closed
    assert router.cooldowns() == []
    assert route_and_finish(router, 10, healthy) == {"a": 10}


def test_exactly_one_probe_under_concurrent_routes():
    router, clock = build(
        [model("a", 0.9), model("b", 0.5, capacity=10_000)],
        default_strategy="assigned",
        cooldown_seconds=10,
    )
    for _ in range(3):
        d = router.route("agent")
        router.record_outcome(d.decision_id, "a", False, 5)
    clock.advance(10)
    barrier = threading.Barrier(16)
    picked: list[str] = []

    def worker():
        barrier.wait()
        picked.extend(router.route("agent").model_id for _ in range(100))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(picked) == {"a": 1, "b": 1599}


def test_error_rate_breach_cools_down_after_min_samples():
    router, clock = build(
        [model("a", 0.9), model("b", 0.5)],
        default_strategy="assigned",
        cooldown_error_rate=0.5,
        error_rate_window=20,
        error_rate_min_samples=10,
    )
    pattern = [True, False] * 4 + [True]  # 4 failures in 9: below min samples, no 3 in a row
    for ok in pattern:
        d = router.route("agent")
        router.record_outcome(d.decision_id, d.model_id, ok, 100)
    assert router.cooldowns() == []
    d = router.route("agent")
    router.record_outcome(d.decision_id, d.model_id, False, 100)  # 5 of 10 = 50%
    [cd] = router.cooldowns()
    assert cd["reason"] == "error rate 50% over the last 10 outcomes"


def test_a_lost_probe_expires_and_another_probe_may_go():
    router, clock = build(
        [model("a", 0.9), model("b", 0.5)],
        default_strategy="assigned",
        cooldown_seconds=10,
        inflight_timeout_s=60,
    )
    for _ in range(3):
        d = router.route("agent")
        router.record_outcome(d.decision_id, "a", False, 5)
    clock.advance(10)
    probe = router.route("agent")
    assert probe.probe is True  # ...and its outcome never arrives
    clock.advance(61)
    # route runs expiry first: the abandoned probe taught nothing, a new probe goes to a
    nxt = router.route("agent")
    assert nxt.model_id == "a" and nxt.probe is True
    [cd] = router.cooldowns()
    assert cd["state"] == "half_open"
    assert router.load.inflight("a") == 1
    assert router.record_outcome(probe.decision_id, "a", True, 5) is False  # too late


def test_abandoned_probe_is_given_back():
    router, clock = build(
        [model("a", 0.9), model("b", 0.5)], default_strategy="assigned", cooldown_seconds=10
    )
    for _ in range(3):
        d = router.route("agent")
        router.record_outcome(d.decision_id, "a", False, 5)
    clock.advance(10)
    probe = router.route("agent")
    assert probe.probe is True and router.route("agent").model_id == "b"
    assert router.abandon(probe.decision_id, "a") is True  # the writer refused the decision
    assert router.load.inflight("a") == 0
    assert router.cooldowns()[0]["probe_in_flight"] is False
    again = router.route("agent")
    assert (again.model_id, again.probe) == ("a", True)  # the probe is available again
    assert router.abandon(probe.decision_id, "a") is False


def test_stragglers_do_not_move_the_breaker():
    router, clock = build(
        [model("a", 0.9), model("b", 0.5)], default_strategy="assigned", cooldown_seconds=10
    )
    early = [router.route("agent") for _ in range(5)]
    for d in early[:3]:
        router.record_outcome(d.decision_id, "a", False, 5)
    clock.advance(10)
    for d in early[3:]:  # routed before the cooldown, answered after it: not a probe result
        router.record_outcome(d.decision_id, "a", True, 5)
    assert router.cooldowns()[0]["state"] == "half_open"


# -- learning bookkeeping -------------------------------------------------------------------------


def test_duplicate_outcomes_are_not_learned_twice():
    router, _ = build([model("a")])
    d = router.route("agent")
    assert router.record_outcome(d.decision_id, "a", True, 100) is True
    assert router.record_outcome(d.decision_id, "a", False, 100) is False
    assert router.record_outcome("unknown-id", "a", False, 100) is False
    assert router.load.inflight("a") == 0
    [status] = router.model_status()
    assert status["success_mean"] == pytest.approx(10.5 / 11)  # Beta(9.5 + 1, 0.5): one success
    assert router.record_outcome(None, "a", False, 100) is True  # learned, no load change
    assert router.model_status()[0]["success_mean"] == pytest.approx(10.5 / 12)


def test_concurrent_routes_never_exceed_capacity_and_counts_return_to_zero():
    router, _ = build(
        [model(f"m{i}", capacity=3) for i in range(4)], default_strategy="least_loaded"
    )
    barrier = threading.Barrier(16)
    taken, refused = [], []
    lock = threading.Lock()

    def worker():
        barrier.wait()
        for _ in range(5):
            try:
                d = router.route("agent")
            except NoModelAvailable:
                with lock:
                    refused.append(1)
            else:
                with lock:
                    taken.append(d)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(taken), len(refused)) == (12, 68)
    assert Counter(d.model_id for d in taken) == {f"m{i}": 3 for i in range(4)}
    for d in taken:
        assert router.record_outcome(d.decision_id, d.model_id, True, 10)
    assert [router.load.inflight(f"m{i}") for i in range(4)] == [0, 0, 0, 0]


@pytest.mark.parametrize("strategy", ["adaptive", "assigned", "least_loaded", "p2c"])
def test_every_strategy_serves_many_threads_with_exact_counts(strategy):
    router, _ = build(
        [model(f"m{i}", 0.5 + i / 20, capacity=10_000) for i in range(8)], default_strategy=strategy
    )
    barrier = threading.Barrier(8)

    def worker(seed):
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(250):
            d = router.route("agent")
            router.record_outcome(d.decision_id, d.model_id, rng.random() < 0.9, 100)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert router.load.total_inflight() == 0
    assert sum(s["finished_total"] for s in router.load.stats().values()) == 2000


# -- ids ----------------------------------------------------------------------------------------


def test_uuid7_version_variant_and_order():
    ids = [new_decision_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for value in ids[::997]:
        u = uuid.UUID(value)
        assert (u.version, u.variant) == (7, uuid.RFC_4122)
        assert str(u) == value
        assert is_decision_id(value)
    assert not is_decision_id(str(uuid.uuid4()))
    assert not is_decision_id("nonsense")


def test_uuid7_time_and_monotonic_across_threads():
    before = datetime.now(UTC)
    value, at = new_decision_id_with_time()
    after = datetime.now(UTC)
    assert decision_time(value) == at
    # ms precision (floored); the generator may borrow a millisecond ahead only past 2,048 ids/ms
    assert before - timedelta(milliseconds=1) <= at <= after + timedelta(milliseconds=2)
    with pytest.raises(ValueError):
        decision_time(str(uuid.uuid4()))
    per_thread: list[list[str]] = [[] for _ in range(8)]

    def worker(i):
        per_thread[i].extend(new_decision_id() for _ in range(2000))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [v for ids in per_thread for v in ids]
    assert len(set(everything)) == len(everything)
    assert all(ids == sorted(ids) for ids in per_thread)


# -- several hosts behind a load balancer ---------------------------------------------------------


def test_outcome_posted_to_another_host_is_reconciled_by_the_deciding_host():
    clock = FakeClock()
    catalog = Catalog.build([model("a", 0.9, capacity=4), model("b", 0.5)], [AGENT])
    database: dict[str, tuple[bool, float]] = {}  # INFERENCE_METRICS: one outcome per decision

    def host(seed):
        load = LoadTracker(300, clock=clock)
        cache = RankingCache(60, 100, clock=clock)
        return Router(
            lambda: catalog,
            load,
            cache,
            default_strategy="assigned",
            clock=clock,
            rng=random.Random(seed),
        )

    host_a, host_b = host(1), host(2)

    def post_outcome(to, decision_id, model_id, ok, latency):
        """What the API does: store first (409 on a second), then tell the local router."""
        if decision_id in database:
            return 409
        database[decision_id] = (ok, latency)
        if not to.record_outcome(decision_id, model_id, ok, latency):
            to.record_outcome(None, model_id, ok, latency)  # decided elsewhere: learn only
        return 201

    decisions = [host_a.route("agent") for _ in range(4)]
    assert {d.model_id for d in decisions} == {"a"} and host_a.load.inflight("a") == 4
    for d in decisions[:3]:  # the balancer sends these outcomes to host B
        assert post_outcome(host_b, d.decision_id, d.model_id, True, 250.0) == 201
    assert post_outcome(host_b, decisions[0].decision_id, "a", True, 250.0) == 409
    assert host_b.load.inflight("a") == 0  # B never counted them
    assert host_b.model_status()[0]["success_mean"] == pytest.approx(12.5 / 13)  # but learned
    assert host_a.route("agent").model_id == "b"  # A still believes a is full

    def fetch(ids):
        return {i: database[i] for i in ids if i in database}

    assert host_a.reconcile(fetch, older_than_s=5.0) == 0  # too young to look up
    clock.advance(5)
    assert host_a.reconcile(fetch, older_than_s=5.0) == 3
    assert host_a.load.inflight("a") == 1  # the fourth has no outcome yet
    assert host_a.reconcile(fetch, older_than_s=5.0) == 0  # released once only
    assert host_a.model_status()[0]["success_mean"] == pytest.approx(12.5 / 13)
    assert post_outcome(host_a, decisions[3].decision_id, "a", True, 250.0) == 201
    assert host_a.load.inflight("a") == 0


def test_cold_start_follows_capability():
    """With nothing learned yet, adaptive sends most traffic to the most capable model."""
    router, _ = build([model("strong", coding=0.9), model("weak", coding=0.5)])
    picks = []
    for _ in range(200):
        decision = router.route("agent")
        picks.append(decision.model_id)
        router.abandon(decision.decision_id, decision.model_id)  # keep both under capacity
    assert picks.count("strong") >= 150
