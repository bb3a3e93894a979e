"""Time-ordered decision ids: UUIDv7 (RFC 9562).

Layout (128 bits): 48-bit Unix time in milliseconds, 4-bit version (7), 12-bit `rand_a`, 2-bit
variant (0b10), 62-bit `rand_b`. `rand_a` is used as a counter (RFC 9562 §6.2, method 1) so that ids
made by one process are strictly increasing even within one millisecond: a new millisecond seeds the
counter with 11 random bits (leaving at least 2,048 increments of headroom); when the counter would
overflow, the timestamp field is advanced by one millisecond, and a clock that steps backwards never
makes the ids go backwards. Ids therefore sort by creation time as strings too, which keeps the
ROUTING_DECISIONS primary key append-mostly in both databases.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime

_VERSION = 0x7
_COUNTER_MAX = 0xFFF
_VARIANT_DIGIT = {d: "89ab"[int(d, 16) & 3] for d in "0123456789abcdef"}
_SEED_SHIFT = 5  # 16 random bits >> 5: the counter starts at 11 random bits


class _Generator:
    """Holds the last timestamp and counter; one per process, guarded by a lock.

    Random bits come from os.urandom, read 4 KiB at a time (one system call per ~400 ids), and
    the buffer is dropped in a forked child so two processes never share random bits.
    """

    __slots__ = ("_lock", "_last_ms", "_counter", "_time_ns", "_pool", "_pos")

    _POOL_BYTES = 4096

    def __init__(self, time_ns=time.time_ns) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0
        self._time_ns = time_ns
        self._pool = b""
        self._pos = 0

    def reset_random(self) -> None:
        self._pool, self._pos = b"", 0

    def next(self) -> tuple[str, int]:
        """(canonical UUIDv7 string, its millisecond timestamp)."""
        now_ms = self._time_ns() // 1_000_000
        with self._lock:
            pos = self._pos
            if pos + 10 > len(self._pool):
                self._pool, pos = os.urandom(self._POOL_BYTES), 0
            self._pos = pos + 10
            pool = self._pool
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = int.from_bytes(pool[pos : pos + 2], "big") >> _SEED_SHIFT
            elif self._counter < _COUNTER_MAX:
                self._counter += 1
            else:  # counter exhausted (or the clock stepped back): borrow the next millisecond
                self._last_ms += 1
                self._counter = int.from_bytes(pool[pos : pos + 2], "big") >> _SEED_SHIFT
            ms, counter = self._last_ms, self._counter
        # 8 bytes of time, version and counter, then 8 random bytes whose top two bits become the
        # variant (0b10) by mapping the first hex digit of that group into 8..b. Hex of bytes is
        # cheaper than formatting one 128-bit integer.
        h = ((ms << 16 | 0x7000 | counter).to_bytes(8, "big") + pool[pos + 2 : pos + 10]).hex()
        text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"
        return text, ms


_generator = _Generator()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_generator.reset_random)


def _ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def new_decision_id() -> str:
    """Return a new UUIDv7 as a lowercase canonical string, increasing within this process."""
    return _generator.next()[0]


def new_decision_id_with_time() -> tuple[str, datetime]:
    """A new UUIDv7 and the UTC time it encodes (what `decision_time` would return)."""
    text, ms = _generator.next()
    return text, _ms_to_datetime(ms)


def decision_time(decision_id: str) -> datetime:
    """Return the UTC creation time (millisecond precision) encoded in a UUIDv7 id.

    Raises ValueError when the string is not a UUID of version 7.
    """
    u = uuid.UUID(decision_id)
    if u.version != _VERSION:
        raise ValueError(f"not a UUIDv7: {decision_id!r}")
    return _ms_to_datetime(u.int >> 80)


def is_decision_id(value: str) -> bool:
    """True when `value` parses as a UUIDv7 (used by API validation)."""
    try:
        return uuid.UUID(value).version == _VERSION
    except (ValueError, TypeError, AttributeError):
        return False
