"""The group-commit writer's figures (GET /api/v1/system/db, /readyz, /metrics).

Counters and commit latency samples, kept apart from the writer's logic: the writer thread and
its committer thread (the spool replay) both count, so every update takes the lock.
"""

from __future__ import annotations

import threading
from collections import deque


class WriterStats:
    """Counters and latency samples; written by the writer thread (overloaded and withdrawn
    under the writer's queue lock), read by anyone. The lock keeps a reader's batch figures
    consistent with each other while a commit is being recorded."""

    _BUCKETS = (1, 10, 50, 100, 200, 500, 1000)

    def __init__(self) -> None:
        self.batches = self.rows = self.refused = self.overloaded = self.withdrawn = 0
        self.spooled_rows = self.replayed_rows = self.replay_skipped_rows = 0
        self.replay_dropped_duplicates = 0
        self.dead_letters = self.spool_depth = 0
        self.deadline_diversions = self.deadline_diverted_rows = 0
        self.batch_max = 0
        self.histogram = dict.fromkeys(self._BUCKETS + (None,), 0)
        self.latencies: deque[float] = deque(maxlen=2048)
        self.latency_total = self.latency_max = 0.0
        self._lock = threading.Lock()

    def committed(self, rows: int, latency: float) -> None:
        bucket = next((b for b in self._BUCKETS if rows <= b), None)
        with self._lock:
            self.batches += 1
            self.rows += rows
            self.batch_max = max(self.batch_max, rows)
            self.histogram[bucket] += 1
            self.latencies.append(latency)
            self.latency_total += latency
            self.latency_max = max(self.latency_max, latency)

    def add(self, **deltas: int) -> None:
        """Add to counters; the writer and its committer thread (replay) both count."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def seconds_per_row(self) -> float:
        """Recent commit time per row (0.001 s before the first commit)."""
        return self.latency_total / self.rows if self.rows else 0.001

    def as_dict(self) -> dict:
        with self._lock:
            return self._as_dict()

    def _as_dict(self) -> dict:
        samples = sorted(self.latencies)
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))] if samples else 0.0
        avg = self.latency_total / self.batches if self.batches else 0.0
        return {
            "batches": self.batches,
            "rows": self.rows,
            "refused_requests": self.refused,
            "batch_size_avg": self.rows / self.batches if self.batches else 0.0,
            "batch_size_max": self.batch_max,
            "batch_size_histogram": {
                (f"<={b}" if b else f">{self._BUCKETS[-1]}"): n for b, n in self.histogram.items()
            },
            "commit_latency_ms": {
                "avg": avg * 1000,
                "p99": p99 * 1000,
                "max": self.latency_max * 1000,
            },
            "overloaded": self.overloaded,
            "withdrawn": self.withdrawn,
            "spooled_rows": self.spooled_rows,
            "replayed_rows": self.replayed_rows,
            "replay_skipped_rows": self.replay_skipped_rows,
            "replay_dropped_duplicates": self.replay_dropped_duplicates,
            "spool_depth": self.spool_depth,
            "dead_letters": self.dead_letters,
            "deadline_diversions": self.deadline_diversions,
            "deadline_diverted_rows": self.deadline_diverted_rows,
        }
