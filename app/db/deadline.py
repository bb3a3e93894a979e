"""Database calls with a deadline the caller can walk away from.

A slow database (a lock held by another process, a log-full stall, a server that accepts and stops
answering) must not hold up a request: the caller waits at most its deadline, then goes on (the
writer spools, a read answers 503 or from memory). Python cannot kill a thread blocked in a
driver, so the call runs on a worker thread of a `Deadlines` runner and the caller waits for it
with a timeout. What bounds the worker itself is the backend: while a job runs, `Database`
applies the job's deadline to every connection it lends (`backend.time_limit`: SQLite's busy
timeout and progress handler), and on abandonment the runner interrupts the connection
(`backend.interrupt`: sqlite3 `interrupt()`, hdbcli `cancel()`); HANA's statement timeout and
the connection's communicationTimeout end anything that ignores the cancel. No thread is left
blocked forever, and an abandoned call may still complete (even commit) after its caller gave
up: callers make their work idempotent by key, as the spool replay is.
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from app.db import errors

log = logging.getLogger(__name__)
T = TypeVar("T")
_current: contextvars.ContextVar[Job | None] = contextvars.ContextVar("db_job", default=None)


class DeadlineExceeded(errors.DatabaseUnavailable):
    """The database did not answer within the deadline: unavailable for now (HTTP 503)."""


class Job:
    """One call on a worker: its deadline, result, and the connection it is using now."""

    def __init__(self, fn: Callable[[], Any], seconds: float, on_done: Callable | None) -> None:
        self.fn, self.on_done = fn, on_done
        self.deadline = time.monotonic() + seconds
        self.finished_at = 0.0
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = self.abandoned = False  # set under the runner's lock
        self.done = threading.Event()
        self._conn: Any = None
        self._interrupt: Callable[[Any], None] | None = None
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    @property
    def late(self) -> bool:
        """Finished after its deadline (or not at all yet)."""
        return not self.done.is_set() or self.finished_at > self.deadline

    @contextmanager
    def holding(self, conn: Any, interrupt: Callable[[Any], None]) -> Iterator[None]:
        """Mark `conn` as in use by this job, so interrupt() can cut it; never after the
        body left (the connection may be lent to someone else by then)."""
        with self._lock:
            self._conn, self._interrupt = conn, interrupt
            cut = self.abandoned
        if cut:
            interrupt(conn)
        try:
            yield
        finally:
            with self._lock:
                self._conn = self._interrupt = None

    def interrupt(self) -> None:
        """Cut the statement the job runs now, if any (called once it is abandoned)."""
        with self._lock:
            conn, interrupt = self._conn, self._interrupt
        if conn is not None and interrupt is not None:
            try:
                interrupt(conn)
            except Exception:  # the connection may be closing: its own timeouts end it
                log.debug("interrupting an abandoned call failed", exc_info=True)

    def result_or_raise(self) -> Any:
        if self.error is None:
            return self.result
        timed_out = (errors.TransientError, errors.StatementTimeout)
        if isinstance(self.error, timed_out) and self.late:
            # the backend's time limit (a lock wait, the statement limit) ended it: to the
            # caller that is the deadline
            raise DeadlineExceeded(f"no answer within the deadline: {self.error}") from self.error
        raise self.error


def current() -> Job | None:
    """The job the calling worker thread runs (None outside a Deadlines worker)."""
    return _current.get()


class Deadlines:
    """Worker threads (started on first use) that run calls their callers may stop awaiting."""

    def __init__(self, name: str, workers: int = 1) -> None:
        self.name, self.workers = name, workers
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._running = 0  # jobs a worker is executing now
        self._abandoned_running = 0  # of those, jobs whose caller gave up
        self.abandoned = 0  # figures: calls given up at the deadline
        self.completed_late = 0  # of those, calls that finished afterwards (maybe committed)

    @property
    def busy(self) -> bool:
        """A call whose caller gave up is still running (a new one would queue behind it)."""
        with self._lock:
            return self._abandoned_running > 0 or self._running >= self.workers

    def submit(self, fn: Callable[[], Any], seconds: float, on_done: Callable | None = None) -> Job:
        """Queue fn() for a worker; the returned Job's `done` is set when it finished."""
        job = Job(fn, seconds, on_done)
        with self._lock:
            if len(self._threads) < self.workers:
                thread = threading.Thread(target=self._work, name=self.name, daemon=True)
                self._threads.append(thread)
                thread.start()
        self._jobs.put(job)
        return job

    def run(self, fn: Callable[[], T], seconds: float) -> T:
        """fn() on a worker; its result or error, or DeadlineExceeded after `seconds`."""
        job = self.submit(fn, seconds)
        if not job.done.wait(seconds):
            self.give_up(job)
            raise DeadlineExceeded(f"no answer within {seconds * 1000:.0f} ms")
        return job.result_or_raise()

    def give_up(self, job: Job) -> None:
        """The caller stops waiting for `job`: interrupt it; a job not started never runs."""
        with self._lock:
            if job.done.is_set():
                return
            job.abandoned = True
            self.abandoned += 1
            if job.started:
                self._abandoned_running += 1
        job.interrupt()

    def close(self) -> None:
        """Let the workers end once the queue is empty (an abandoned call ends on its own)."""
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            with self._lock:
                if job.abandoned:  # the caller left before it started: never run it
                    job.error = DeadlineExceeded("abandoned before it started")
                    job.finished_at = time.monotonic()
                    job.done.set()
                    continue
                job.started = True
                self._running += 1
            token = _current.set(job)
            try:
                job.result = job.fn()
            except BaseException as exc:  # handed to the caller, who decides
                job.error = exc
            finally:
                _current.reset(token)
            with self._lock:
                job.finished_at = time.monotonic()
                self._running -= 1
                if job.abandoned:
                    self._abandoned_running -= 1
                    self.completed_late += 1
                job.done.set()
            if job.on_done is not None:
                job.on_done()
