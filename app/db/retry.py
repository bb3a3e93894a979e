"""Retry with exponential backoff and jitter, shared by the pool (connects) and the database
(transactions hit by transient errors).

Delays grow by a multiplier up to a cap (defaults 100 ms, 500 ms, 2.5 s); "equal" jitter keeps
half of each delay fixed and randomises the other half, so many workers reconnecting after an
outage spread out without any of them retrying at once against a server that is down.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any


def backoff_delays(attempts: int, initial: float, multiplier: float, cap: float) -> list[float]:
    """Delays before each retry, without jitter: initial, initial*multiplier, ..., capped."""
    return [min(cap, initial * multiplier**i) for i in range(attempts)]


def equal_jitter(delay: float, rand: Callable[[], float] = random.random) -> float:
    """Half fixed, half random ("equal jitter"): spreads the reconnects of many workers while,
    unlike full jitter (anywhere in [0, delay]), never retrying at once against a down server."""
    return delay / 2 + delay / 2 * rand()


def connect_with_retry(
    connect: Callable[[], Any],
    delays: Sequence[float],
    *,
    is_transient: Callable[[BaseException], bool],
    sleep: Callable[[float], Any] = time.sleep,
    jitter: Callable[[float], float] = equal_jitter,
    on_error: Callable[[BaseException], None] | None = None,
) -> Any:
    """Call connect(), retrying transient errors once per delay after sleep(jitter(delay)).

    Raises the last error when the delays are used up or an error is not transient.
    """
    for delay in [*delays, None]:
        try:
            return connect()
        except Exception as exc:
            if on_error is not None:
                on_error(exc)
            if delay is None or not is_transient(exc):
                raise
            sleep(jitter(delay))
    raise AssertionError("unreachable")
