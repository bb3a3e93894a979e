"""In-flight quotas per key and per agent (app.routing.quota), with real threads."""

from __future__ import annotations

import threading

import pytest

from app.routing.quota import QuotaExceeded, Quotas


def test_check_and_add_is_atomic_under_threads():
    """16 threads at once against a key limit of 4 (share 0.5 of 8 slots): exactly 4 held."""
    quotas = Quotas(0.5, 1.0)
    barrier = threading.Barrier(16)
    results: list[bool] = []

    def hold(n: int) -> None:
        barrier.wait(5)
        try:
            quotas.hold(f"d{n}", "key", f"agent-{n}", capacity=8)
            results.append(True)
        except QuotaExceeded:
            results.append(False)

    threads = [threading.Thread(target=hold, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert results.count(True) == 4 and results.count(False) == 12
    assert quotas.held()["keys"] == {"key": 4}


def test_release_gives_the_slot_back_once_and_a_share_of_1_is_no_limit():
    quotas = Quotas(0.5, 0.25)
    quotas.hold("d1", "k", "a", capacity=4)  # agent limit: 1
    with pytest.raises(QuotaExceeded, match="quota.agent_share: at most 1"):
        quotas.hold("d2", "other", "a", capacity=4)
    assert quotas.release("d1") is True and quotas.release("d1") is False
    quotas.hold("d2", "other", "a", capacity=4)
    assert quotas.held() == {"keys": {"other": 1}, "agents": {"a": 1}}
    free = Quotas(1.0, 1.0)
    for n in range(100):
        free.hold(f"d{n}", "k", "a", capacity=1)
    assert free.held()["keys"] == {"k": 100}


def test_a_small_catalog_still_allows_one_request():
    quotas = Quotas(0.1, 0.1)
    quotas.hold("d1", "k", "a", capacity=2)  # 0.1 * 2 rounds down to 0: at least one
    with pytest.raises(QuotaExceeded):
        quotas.hold("d2", "k", "b", capacity=2)
