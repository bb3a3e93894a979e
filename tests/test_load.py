"""LoadTracker: exact in-flight counts under threads, expiry, EWMA latency, snapshots."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from support import FakeClock

from app.routing.load import LoadTracker


def test_start_finish_counts_and_refuses_duplicates():
    load = LoadTracker(60)
    assert load.start("d1", "m") is True
    assert load.start("d1", "m") is False  # same decision twice: counted once
    assert load.start("d2", "m") is True
    assert load.inflight("m") == 2
    assert load.finish("d1", True, 100) is True
    assert load.finish("d1", True, 100) is False  # duplicate outcome
    assert load.finish("never-started", True, 100) is False
    assert load.inflight("m") == 1
    assert load.finish("d2", False, 10) is True
    assert load.inflight("m") == 0
    assert load.finish("d2", False, 10) is False
    assert load.inflight("m") == 0
    assert load.total_inflight() == 0


def test_many_threads_with_duplicate_finishes_return_to_zero_and_never_go_negative():
    load = LoadTracker(600)
    models = [f"m{i}" for i in range(4)]
    threads, per_thread = 16, 2000
    accepted = [0] * threads
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()
    lowest = []

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            did = f"{t}-{i}"
            model = models[(t + i) % len(models)]
            load.start(did, model)
            ok = 0
            for _ in range(2 if i % 3 == 0 else 1):  # every third outcome arrives twice
                ok += load.finish(did, i % 5 != 0, 50.0)
            # and some outcomes are raced by another thread finishing the same id
            if i % 7 == 0:
                ok += load.finish(f"{(t + 1) % threads}-{i}", True, 50.0)
            accepted[t] += ok

    def monitor() -> None:
        barrier.wait()
        low = 0
        while not stop.is_set():
            low = min([low] + [load.inflight(m) for m in models])
        lowest.append(low)

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    watcher = threading.Thread(target=monitor)
    for th in [*workers, watcher]:
        th.start()
    for th in workers:
        th.join()
    stop.set()
    watcher.join()
    assert lowest == [0]
    assert sum(accepted) == threads * per_thread  # each decision released exactly once
    assert [load.inflight(m) for m in models] == [0, 0, 0, 0]
    assert load.total_inflight() == 0
    stats = load.stats()
    assert sum(s["finished_total"] for s in stats.values()) == threads * per_thread


def test_try_start_never_exceeds_capacity_under_threads():
    load = LoadTracker(60)
    barrier = threading.Barrier(16)
    results = []

    def worker(t: int) -> None:
        barrier.wait()
        results.extend(load.try_start(f"{t}-{i}", "m", 10) for i in range(50))

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results.count(True) == 10
    assert load.inflight("m") == 10


def test_expire_removes_old_entries_counts_them_and_ignores_late_outcomes():
    clock = FakeClock()
    load = LoadTracker(30, clock=clock, failure_penalty_ms=2000)
    load.start("old-1", "a")
    load.start("old-2", "b")
    clock.advance(20)
    load.start("young", "a")
    clock.advance(10)  # old ones are exactly 30 s old: expired; young is 10 s old
    expired = load.expire()
    assert sorted((e.decision_id, e.model_id) for e in expired) == [("old-1", "a"), ("old-2", "b")]
    assert all(e.age_s == 30 for e in expired)
    assert load.inflight("a") == 1 and load.inflight("b") == 0
    assert load.expired_total("a") == 1 and load.expired_total("b") == 1
    assert load.finish("old-1", True, 100) is False  # too late: already counted as expired
    assert load.inflight("a") == 1
    # an expiry says nothing about the model: the client abandoned its request (issue 14)
    assert load.latency("a") is None
    assert load.expire() == []
    assert load.finish("young", True, 100) is True
    assert load.inflight("a") == 0


def test_open_older_than_lists_the_oldest_first():
    clock = FakeClock()
    load = LoadTracker(300, clock=clock)
    for i in range(5):
        load.start(f"d{i}", "m")
        clock.advance(1)
    load.finish("d1", True, 10)
    assert load.open_older_than(3) == [("d0", "m"), ("d2", "m")]
    assert load.open_older_than(3, limit=1) == [("d0", "m")]
    assert load.open_older_than(10) == []


def test_ewma_latency_and_failure_penalty():
    clock = FakeClock()
    load = LoadTracker(
        60, clock=clock, ewma_alpha=0.5, failure_penalty_ms=1000, ewma_half_life_s=60
    )
    assert load.latency("m") is None and load.ewma_latency_ms("m") is None
    load.start("1", "m")
    load.finish("1", True, 100)
    assert load.ewma_latency_ms("m") == 100
    load.start("2", "m")
    load.finish("2", True, 300)
    assert load.ewma_latency_ms("m") == 200
    load.start("3", "m")
    load.finish("3", False, 5)  # a fast failure counts as the penalty, never as fast
    view = load.latency("m")
    assert view.ewma_latency_ms == 600  # 200 + 0.5 * (1000 - 200)
    assert view.ewma_failure == 0.5
    assert view.updated_at == clock.now
    clock.advance(60)  # one half-life of silence: the old average keeps 0.5 * 0.5 of its weight
    load.observe("m", True, 200)
    view = load.latency("m")
    assert view.ewma_latency_ms == pytest.approx(300)  # 200 + 0.25 * (600 - 200)
    assert view.ewma_failure == pytest.approx(0.125)
    assert view.updated_at == clock.now


def test_utilization_and_snapshot_rows():
    load = LoadTracker(60, wall_clock=lambda: 1_800_000_000.0)
    for i in range(3):
        load.start(f"a{i}", "a")
    load.start("x", "unlisted")
    assert load.utilization("a", 4) == 0.75
    assert load.utilization("a", 0) == 1.0
    rows = load.snapshot({"a": 4, "b": 2})
    taken = datetime.fromtimestamp(1_800_000_000.0, tz=UTC)
    assert rows == [
        {
            "model_id": "a",
            "in_flight": 3,
            "utilization": 0.75,
            "ewma_latency_ms": None,
            "taken_at": taken,
        },
        {
            "model_id": "b",
            "in_flight": 0,
            "utilization": 0.0,
            "ewma_latency_ms": None,
            "taken_at": taken,
        },
        {
            "model_id": "unlisted",
            "in_flight": 1,
            "utilization": 1.0,
            "ewma_latency_ms": None,
            "taken_at": taken,
        },
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"inflight_timeout_s": 0},
        {"inflight_timeout_s": 1, "ewma_alpha": 0},
        {"inflight_timeout_s": 1, "ewma_alpha": 1.5},
    ],
)
def test_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        LoadTracker(**kwargs)


def test_cancel_releases_without_learning():
    tracker = LoadTracker(60.0)
    assert tracker.start("d1", "m")
    assert tracker.inflight("m") == 1
    assert tracker.cancel("d1") is True
    assert tracker.inflight("m") == 0
    assert tracker.ewma_latency_ms("m") is None
    assert tracker.cancel("d1") is False
    assert tracker.finish("d1", True, 10.0) is False
