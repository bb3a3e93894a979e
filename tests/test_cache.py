"""RankingCache: buckets, TTL, invalidation of every kind, the generation race, statistics."""

from __future__ import annotations

import threading

import pytest
from support import FakeClock

from app.routing import AgentView, Assignment, Catalog, ModelView, Router
from app.routing.cache import RankingCache, bucket_min_tokens, size_bucket
from app.routing.load import LoadTracker


@pytest.mark.parametrize(
    ("tokens", "bucket"),
    [(-5, 0), (0, 0), (1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (1024, 10), (1025, 11)],
)
def test_size_bucket_is_power_of_two(tokens, bucket):
    assert size_bucket(tokens) == bucket
    if tokens > 1:
        assert bucket_min_tokens(bucket) <= tokens <= 2**bucket


def test_get_put_and_stats():
    cache = RankingCache(30, 100)
    key = RankingCache.key("a", "coding", 1000)
    assert key == ("a", "coding", 10)
    assert cache.get(key) is None
    assert cache.put(key, "ranking", ["m1", "m2"], cache.generation()) is True
    assert cache.get(key) == "ranking"
    assert cache.get(key) == "ranking"
    assert cache.stats() == {
        "hits": 2,
        "misses": 1,
        "hit_rate": 2 / 3,
        "size": 1,
        "invalidations": 0,
        "stale_puts_refused": 0,
    }


def test_ttl_expires_entries_with_injected_clock():
    clock = FakeClock()
    cache = RankingCache(10, 100, clock=clock)
    cache.put(("a", None, 0), "r", ["m"], cache.generation())
    clock.advance(9.9)
    assert cache.get(("a", None, 0)) == "r"
    clock.advance(0.2)
    assert cache.get(("a", None, 0)) is None
    assert cache.stats()["size"] == 0


def test_max_entries_bounds_the_cache():
    cache = RankingCache(30, 3)
    for i in range(10):
        cache.put((f"a{i}", None, 0), i, [], cache.generation())
    assert cache.stats()["size"] == 3
    assert cache.get(("a9", None, 0)) == 9
    assert cache.get(("a0", None, 0)) is None


def _filled() -> RankingCache:
    cache = RankingCache(30, 100)
    g = cache.generation()
    cache.put(("a1", "t", 0), "a1-t", ["m1", "m2"], g)
    cache.put(("a1", "u", 3), "a1-u", ["m3"], g)
    cache.put(("a2", "t", 0), "a2-t", ["m2"], g)
    cache.put(("a3", "t", 0), "a3-t", ["m3"], g)
    return cache


def _present(cache: RankingCache) -> list[str]:
    keys = [("a1", "t", 0), ("a1", "u", 3), ("a2", "t", 0), ("a3", "t", 0)]
    return [v for v in (cache.get(k) for k in keys) if v is not None]


def test_invalidate_agent_drops_only_that_agent():
    cache = _filled()
    assert cache.invalidate_agent("a1") == 2
    assert _present(cache) == ["a2-t", "a3-t"]


def test_invalidate_model_drops_rankings_that_mention_it():
    cache = _filled()
    assert cache.invalidate_model("m2") == 2
    assert _present(cache) == ["a1-u", "a3-t"]


def test_invalidate_all_drops_everything_and_counts():
    cache = _filled()
    assert cache.invalidate_all() == 4
    assert _present(cache) == []
    assert cache.stats()["invalidations"] == 1


@pytest.mark.parametrize(
    ("invalidate", "refused"),
    [
        (lambda c: c.invalidate_all(), True),
        (lambda c: c.invalidate_model("m9"), True),  # a changed model may now belong anywhere
        (lambda c: c.invalidate_agent("a1"), True),
        (lambda c: c.invalidate_agent("other"), False),  # another agent: no reason to refuse
    ],
)
def test_ranking_computed_before_an_invalidation_is_never_stored(invalidate, refused):
    cache = RankingCache(30, 100)
    token = cache.generation()  # compute starts...
    invalidate(cache)  # ...the catalog changes and is invalidated...
    stored = cache.put(("a1", None, 0), "stale", ["m1"], token)  # ...then the stale result lands
    assert stored is not refused
    assert (cache.get(("a1", None, 0)) is None) is refused
    assert cache.stats()["stale_puts_refused"] == (1 if refused else 0)
    # a computation that starts after the invalidation is stored normally
    assert cache.put(("a1", None, 0), "fresh", ["m1"], cache.generation()) is True
    assert cache.get(("a1", None, 0)) == "fresh"


def test_generation_race_with_real_threads():
    cache = RankingCache(30, 100)
    started, invalidated = threading.Event(), threading.Event()
    result = []

    def compute() -> None:
        token = cache.generation()
        started.set()
        invalidated.wait(5)
        result.append(cache.put(("a", None, 0), "stale", ["m"], token))

    th = threading.Thread(target=compute)
    th.start()
    started.wait(5)
    cache.invalidate_model("m")
    invalidated.set()
    th.join()
    assert result == [False]
    assert cache.get(("a", None, 0)) is None


# -- through the router: every kind of catalog change reaches the route decision -----------------


def _catalog(models, agents=None, assignments=()):
    agents = agents or [AgentView("a", "coding", {"coding": 1.0})]
    return Catalog.build(models, agents, assignments)


def _model(mid, coding, **kw):
    return ModelView(
        mid,
        f"http://{mid}",
        kw.pop("context", 8000),
        kw.pop("capacity", 8),
        capabilities={"coding": coding},
        **kw,
    )


class Holder:
    """What the app does: replace the snapshot, then invalidate."""

    def __init__(self, catalog: Catalog, cache: RankingCache) -> None:
        self.catalog = catalog
        self.cache = cache

    def __call__(self) -> Catalog:
        return self.catalog

    def swap(self, catalog: Catalog, invalidate) -> None:
        self.catalog = catalog
        invalidate(self.cache)


@pytest.mark.parametrize(
    "change",
    ["model", "agent", "assignment", "all"],
)
def test_route_sees_every_kind_of_catalog_change(change):
    cache = RankingCache(300, 100)
    holder = Holder(_catalog([_model("m1", 0.9), _model("m2", 0.5)]), cache)
    router = Router(holder, LoadTracker(60), cache, default_strategy="assigned")
    first = router.route("a")
    assert (first.model_id, first.cache_hit) == ("m1", False)
    assert router.route("a").cache_hit is True
    if change == "model":  # m2 becomes the best coder
        holder.swap(
            _catalog([_model("m1", 0.9), _model("m2", 0.99)]), lambda c: c.invalidate_model("m2")
        )
    elif change == "agent":  # the agent now needs a context only m2 has
        holder.swap(
            _catalog(
                [_model("m1", 0.9), _model("m2", 0.5, context=100_000)],
                [AgentView("a", "coding", {"coding": 1.0}, min_context=50_000)],
            ),
            lambda c: c.invalidate_agent("a"),
        )
    elif change == "assignment":
        holder.swap(
            _catalog(
                [_model("m1", 0.9), _model("m2", 0.5)],
                assignments=[Assignment("a", "m2", "as-2", 0.5)],
            ),
            lambda c: c.invalidate_all(),
        )
    else:  # m1 disabled
        holder.swap(
            _catalog([_model("m1", 0.9, status="disabled"), _model("m2", 0.5)]),
            lambda c: c.invalidate_all(),
        )
    after = router.route("a")
    assert after.model_id == "m2"
    assert after.cache_hit is False
    assert router.route("a").cache_hit is True


def test_router_never_uses_a_ranking_of_an_older_snapshot_even_without_invalidation():
    cache = RankingCache(300, 100)
    holder = Holder(_catalog([_model("m1", 0.9), _model("m2", 0.5)]), cache)
    router = Router(holder, LoadTracker(60), cache, default_strategy="assigned")
    assert router.route("a").model_id == "m1"
    holder.catalog = _catalog([_model("m1", 0.1), _model("m2", 0.5)])  # swapped, not invalidated
    decision = router.route("a")
    assert (decision.model_id, decision.cache_hit) == ("m2", False)


def test_hit_rate_of_repeated_routes():
    cache = RankingCache(300, 100)
    holder = Holder(_catalog([_model("m1", 0.9)]), cache)
    router = Router(holder, LoadTracker(60), cache)
    for i in range(100):
        d = router.route("a", prompt_tokens=100 + i)  # 100..199: buckets 7 and 8
        router.record_outcome(d.decision_id, d.model_id, True, 10)
    stats = cache.stats()
    assert (stats["misses"], stats["hits"], stats["size"]) == (2, 98, 2)
    assert stats["hit_rate"] == 0.98
