"""The one retry policy: exponential backoff with jitter, a bounded number of retries and a time
budget. The pool's connects, `Database.run_in_transaction` and the writer's transactions each
hold a `Backoff` (their own numbers, one mechanism); tests shorten one object and assert the
schedule through its injectable `sleep`.

Delays grow by a multiplier up to a cap (defaults 100 ms, 500 ms, 2.5 s); "equal" jitter keeps
half of each delay fixed and randomises the other half, so many workers reconnecting after an
outage spread out without any of them retrying at once against a server that is down.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

T = TypeVar("T")


def backoff_delays(attempts: int, initial: float, multiplier: float, cap: float) -> list[float]:
    """Delays before each retry, without jitter: initial, initial*multiplier, ..., capped."""
    return [min(cap, initial * multiplier**i) for i in range(attempts)]


def equal_jitter(delay: float, rand: Callable[[], float] = random.random) -> float:
    """Half fixed, half random ("equal jitter"): spreads the reconnects of many workers while,
    unlike full jitter (anywhere in [0, delay]), never retrying at once against a down server."""
    return delay / 2 + delay / 2 * rand()


def no_jitter(delay: float) -> float:
    return delay


@dataclass(frozen=True)
class Backoff:
    """`retries` retries after a first try, the k-th after sleep(jitter(min(cap, initial *
    multiplier**k))); none that would start after `budget` seconds since the first try, or at
    or after a caller's `deadline` (a clock() value)."""

    retries: int = 3
    initial: float = 0.1
    multiplier: float = 5.0
    cap: float = 5.0
    budget: float = math.inf
    jitter: Callable[[float], float] = equal_jitter
    sleep: Callable[[float], Any] = time.sleep
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def from_config(cls, config) -> Backoff:
        """The retry.* settings (connects: retry.max_attempts retries)."""
        return cls(
            retries=config["retry.max_attempts"],
            initial=config.seconds("retry.initial_delay_ms"),
            multiplier=config["retry.multiplier"],
            cap=config.seconds("retry.max_delay_ms"),
            budget=config.seconds("retry.budget_ms"),
        )

    def with_(self, **changes) -> Backoff:
        return replace(self, **changes)

    def delays(self) -> list[float]:
        return backoff_delays(self.retries, self.initial, self.multiplier, self.cap)

    def call(
        self,
        fn: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool],
        deadline: float | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> T:
        """fn(), retried while `retry_if(error)` and the schedule, budget and deadline allow;
        the last error is raised otherwise."""
        started = self.clock()
        for delay in [*self.delays(), None]:
            try:
                return fn()
            except Exception as exc:
                if on_error is not None:
                    on_error(exc)
                if delay is None or not retry_if(exc):
                    raise
                pause = self.jitter(delay)
                resume = self.clock() + pause
                if resume - started > self.budget or (deadline is not None and resume >= deadline):
                    raise
                self.sleep(pause)
        raise AssertionError("unreachable")
