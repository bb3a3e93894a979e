"""Routing-result cache: candidate rankings per (agent, task type, prompt size bucket).

A ranking depends only on the catalog (models, agents, assignments), so it is cached with a TTL
and dropped whenever the catalog changes. Storage is `cachetools.TTLCache` (LRU within a TTL),
guarded by one lock because cachetools containers are not thread-safe.

Invalidation race: a request may start computing a ranking from the old catalog, the catalog may
then change and be invalidated, and the request would store its stale ranking after the
invalidation. To prevent it every invalidation bumps a generation counter; a caller takes
`generation()` *before* reading the catalog and passes it to `put()`, which refuses to store a
ranking computed before a later invalidation that covers its key. The catalog owner must therefore
replace the catalog first and invalidate second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from cachetools import TTLCache

CacheKey = tuple[str, str | None, int]


def size_bucket(prompt_tokens: int) -> int:
    """Power-of-two bucket of a prompt size: 0 for 0 tokens, b for 2**(b-1) < tokens <= 2**b."""
    if prompt_tokens <= 0:
        return 0
    return (prompt_tokens - 1).bit_length()


def bucket_min_tokens(bucket: int) -> int:
    """Smallest prompt size that falls into `bucket` (the bucket's lower bound)."""
    return 0 if bucket <= 0 else (1 << (bucket - 1)) + 1


class _Entry:
    __slots__ = ("value", "models")

    def __init__(self, value: Any, models: frozenset[str]) -> None:
        self.value = value
        self.models = models


class RankingCache:
    """Thread-safe TTL cache of rankings with generation-checked stores.

    Keys are `(agent_id, task_type, size_bucket)`; values are opaque to the cache except for the
    set of model ids they mention, given at `put()`, which `invalidate_model()` uses.
    """

    def __init__(
        self,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_s <= 0 or max_entries <= 0:
            raise ValueError("ttl_s and max_entries must be positive")
        self._cache: TTLCache = TTLCache(maxsize=max_entries, ttl=ttl_s, timer=clock)
        self._lock = threading.Lock()
        self._generation = 0
        self._all_invalidated_at = 0  # generation of the last invalidate_all / invalidate_model
        self._agent_invalidated_at: dict[str, int] = {}
        self._hits = 0
        self._misses = 0
        self._invalidations = 0
        self._stale_puts = 0

    @staticmethod
    def key(agent_id: str, task_type: str | None, prompt_tokens: int) -> CacheKey:
        """The cache key of a request."""
        return (agent_id, task_type, size_bucket(prompt_tokens))

    def generation(self) -> int:
        """Token to take before computing a ranking; pass it to `put()`."""
        return self._generation

    def get(self, key: Hashable) -> Any | None:
        """The cached value for `key`, or None (counted as a miss)."""
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                self._misses += 1
                return None
            self._hits += 1
            return entry.value

    def put(self, key: CacheKey, value: Any, models: Iterable[str], generation: int) -> bool:
        """Store `value` unless an invalidation covering `key` happened after `generation`.

        Returns True when stored, False when refused as stale.
        """
        entry = _Entry(value, frozenset(models))
        with self._lock:
            if generation < self._all_invalidated_at or generation < (
                self._agent_invalidated_at.get(key[0], 0)
            ):
                self._stale_puts += 1
                return False
            self._cache[key] = entry
            return True

    def _bump(self) -> int:
        self._generation += 1
        self._invalidations += 1
        return self._generation

    def invalidate_all(self) -> int:
        """Drop every ranking (catalog reloaded, assignment run activated); returns the count."""
        with self._lock:
            dropped = len(self._cache)
            self._cache.clear()
            self._all_invalidated_at = self._bump()
            self._agent_invalidated_at.clear()  # subsumed by the global mark
            return dropped

    def invalidate_agent(self, agent_id: str) -> int:
        """Drop the rankings of one agent (its requirements or assignment changed)."""
        with self._lock:
            self._cache.expire()
            keys = [k for k in self._cache.keys() if k[0] == agent_id]
            for k in keys:
                self._cache.pop(k, None)
            self._agent_invalidated_at[agent_id] = self._bump()
            return len(keys)

    def invalidate_model(self, model_id: str) -> int:
        """Drop every ranking that mentions `model_id` (the model changed).

        Stores computed before this call are refused for every key, not only for rankings that
        mention the model: a changed model may now belong in rankings that used to exclude it.
        """
        with self._lock:
            self._cache.expire()
            keys = [k for k, e in self._cache.items() if model_id in e.models]
            for k in keys:
                self._cache.pop(k, None)
            self._all_invalidated_at = self._bump()
            return len(keys)

    def stats(self) -> dict[str, float | int]:
        """Counters for /metrics and the system page."""
        with self._lock:
            self._cache.expire()
            lookups = self._hits + self._misses
            return {
                "hits": self._hits,
                "misses": self._misses,
                "hit_rate": self._hits / lookups if lookups else 0.0,
                "size": len(self._cache),
                "invalidations": self._invalidations,
                "stale_puts_refused": self._stale_puts,
            }
