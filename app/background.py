"""Periodic work off the request path, on one thread per runner: each task runs at its own
interval.

Tasks: reload the catalog until it is loaded, seed the router from V_MODEL_HEALTH, evaluate
alerts, store load snapshots; a second runner purges old history (its runs are long, in short
steps, and check `stopping` between them). A failing task (the database may be down) is
logged once per failure streak at WARNING and retried at its next interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Task:
    name: str
    interval_s: float
    run: Callable[[], object]
    next_at: float = 0.0
    failing: bool = False
    runs: int = 0
    failures: int = 0


class Background:
    def __init__(
        self,
        tasks: list[Task],
        clock: Callable[[], float] = time.monotonic,
        name: str = "background",
    ) -> None:
        self.tasks = tasks
        self._clock = clock
        self._name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def stopping(self) -> threading.Event:
        """Set by stop(): a long task (the stepped purge) checks it between its steps."""
        return self._stop

    def start(self) -> Background:
        now = self._clock()
        for task in self.tasks:
            task.next_at = now
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_due(self) -> float:
        """Run every due task once; return seconds until the next one is due."""
        now = self._clock()
        for task in self.tasks:
            if now >= task.next_at:
                self._run(task)
                task.next_at = self._clock() + task.interval_s
        return max(0.0, min(t.next_at for t in self.tasks) - self._clock())

    def _run(self, task: Task) -> None:
        task.runs += 1
        try:
            task.run()
        except Exception as exc:
            task.failures += 1
            if not task.failing:
                log.warning("background task %s failed: %s: %s", task.name, type(exc).__name__, exc)
            task.failing = True
            return
        if task.failing:
            log.info("background task %s recovered", task.name)
        task.failing = False

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self.run_due() if self.tasks else 1.0
            self._stop.wait(min(wait, 1.0))

    def figures(self) -> dict:
        return {
            t.name: {"runs": t.runs, "failures": t.failures, "failing": t.failing}
            for t in self.tasks
        }
