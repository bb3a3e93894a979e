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
from datetime import UTC, datetime, timedelta

_VERSION = 0x7
_VARIANT = 0b10
_COUNTER_MAX = 0xFFF
_COUNTER_SEED_BITS = 11
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Generator:
    """Holds the last timestamp and counter; one per process, guarded by a lock."""

    __slots__ = ("_lock", "_last_ms", "_counter", "_time_ns")

    def __init__(self, time_ns=time.time_ns) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._counter = 0
        self._time_ns = time_ns

    def next_int(self) -> int:
        rand = int.from_bytes(os.urandom(10), "big")
        now_ms = self._time_ns() // 1_000_000
        with self._lock:
            if now_ms > self._last_ms:
                self._last_ms = now_ms
                self._counter = rand >> (80 - _COUNTER_SEED_BITS)
            elif self._counter < _COUNTER_MAX:
                self._counter += 1
            else:  # counter exhausted (or the clock stepped back): borrow the next millisecond
                self._last_ms += 1
                self._counter = rand >> (80 - _COUNTER_SEED_BITS)
            ms, counter = self._last_ms, self._counter
        rand_b = rand & ((1 << 62) - 1)
        return (
            (ms & 0xFFFF_FFFF_FFFF) << 80
            | _VERSION << 76
            | counter << 64
            | _VARIANT << 62
            | rand_b
        )


_generator = _Generator()


def _format(value: int) -> str:
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_decision_id() -> str:
    """Return a new UUIDv7 as a lowercase canonical string, increasing within this process."""
    return _format(_generator.next_int())


def decision_time(decision_id: str) -> datetime:
    """Return the UTC creation time (millisecond precision) encoded in a UUIDv7 id.

    Raises ValueError when the string is not a UUID of version 7.
    """
    if len(decision_id) == 36 and decision_id[8] == "-" and decision_id[13] == "-":
        head = decision_id[:8] + decision_id[9:13]  # fast path: canonical form, on the hot path
        version = decision_id[14]
    else:
        u = uuid.UUID(decision_id)
        head, version = f"{u.int >> 80:012x}", f"{u.version or 0:x}"
    if version != "7":
        raise ValueError(f"not a UUIDv7: {decision_id!r}")
    return _EPOCH + timedelta(milliseconds=int(head, 16))


def is_decision_id(value: str) -> bool:
    """True when `value` parses as a UUIDv7 (used by API validation)."""
    try:
        return uuid.UUID(value).version == _VERSION
    except (ValueError, TypeError, AttributeError):
        return False
