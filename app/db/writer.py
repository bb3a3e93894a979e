"""Group-commit writer: one thread per process turns many requests' rows into few transactions.

Request threads `submit()` decision and outcome rows and wait on the returned Ticket. The writer
thread gathers rows for up to max_wait_ms (measured from the oldest waiting request, so a busy
writer adds no delay) or max_batch rows, writes them with one batch insert per table and one
SP_APPLY_OUTCOMES call in one transaction, commits, and then wakes every ticket of the batch.

Acknowledged means durable (DESIGN §4): a ticket succeeds only once its rows are committed to the
database, or, while the database is unavailable, fsynced into the local spool (app.db.spool).
While the spool holds rows every new batch goes there too, so order is kept; the same thread
replays the spool in order every replay_interval_s and returns to the database when it is empty.
The replay is idempotent on DECISION_ID (_apply_idempotent), so a crash between a database
commit and the spool delete never counts a row twice.

A slow database is treated like one that is down (issue 13): every transaction runs on the
writer's committer thread (app.db.deadline) and a group commit not done within commit_deadline_s
is abandoned. Its rows go to the spool, its requests are acknowledged from there, and the writer
stays in spooling mode until a replay (the probe) commits within the deadline again. An
abandoned commit may still commit after we gave up (a lock released, a deaf server answering
late): the idempotent replay then skips its rows, so nothing is stored twice. While spooling, the
replay runs on the committer thread too, so the writer thread never waits on the database and
keeps acknowledging from the spool at the spool's speed.

A request whose rows the database refuses (a second outcome → UniqueViolation, an outcome for an
unknown decision → UnknownDecision) fails alone: the batch is split in halves until the refused
requests are isolated, each half committed on its own, so one bad row costs O(log n) extra
transactions and never fails its neighbours.

Backpressure: the queue holds at most queue_max rows; a submit that does not fit raises
Overloaded at once (with retry_after), never blocks. Every wait has a timeout.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from app.db import errors
from app.db.deadline import DeadlineExceeded, Deadlines, Job
from app.db.deadline import current as current_job
from app.db.pool import PoolError
from app.db.retry import Backoff, no_jitter
from app.db.spool import Spool, SpoolEntry, SpoolError
from app.db.sqlfiles import to_qmark
from app.db.store import decisions as store
from app.db.store._common import db_time
from app.db.writer_stats import WriterStats
from app.ids import new_decision_id

log = logging.getLogger(__name__)
T = TypeVar("T")

_RETRYABLE = (errors.DatabaseUnavailable, errors.TransientError)
_QUEUED, _TAKEN, _DONE = "queued", "taken", "done"
# What the database will refuse however often it is asked: isolated by halving and dead-lettered
# on replay, so one such row never blocks the spool behind it.
# Transient errors (lock waits) of a group commit retried at 20 and 40 ms, without jitter: the
# commit has 200 ms (writer.commit_deadline_ms) in all.
LOCK_WAIT_BACKOFF = Backoff(retries=2, initial=0.02, multiplier=2.0, cap=math.inf, jitter=no_jitter)
_REFUSED_FOR_GOOD = (errors.ConstraintViolation, errors.ProcedureError, errors.ValueTooLarge)


class Overloaded(Exception):
    """The writer cannot take more rows now; retry after `retry_after` seconds (HTTP 503)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ShuttingDown(Overloaded):
    """The writer is stopping (or not started) and takes no new rows."""


class WriteTimeout(Exception):
    """A ticket was not durable within its timeout.

    `written` is False when the rows were withdrawn before the writer took them (they will never
    be written: the caller may safely retry), None when the writer had them already (they may
    still become durable).
    """

    def __init__(self, message: str, written: bool | None) -> None:
        super().__init__(message)
        self.written = written


class UnknownDecision(errors.ConstraintViolation):
    """An outcome names a decision that is neither in the database nor ahead of it."""


class Ticket:
    """One request's rows; `wait()` returns once they are durable or raises why they are not."""

    __slots__ = (
        "decisions",
        "outcomes",
        "rows",
        "submitted_at",
        "durable",
        "error",
        "_state",
        "_event",
        "_writer",
    )

    def __init__(
        self,
        writer: Writer | None,
        decisions: list[dict],
        outcomes: list[dict],
        submitted_at: float,
    ) -> None:
        self.decisions, self.outcomes = decisions, outcomes
        self.rows = len(decisions) + len(outcomes)
        self.submitted_at = submitted_at
        self.durable: str | None = None  # "database" or "spool" once acknowledged
        self.error: BaseException | None = None
        self._state = _QUEUED
        self._event = threading.Event()
        self._writer = writer

    @property
    def done(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> str:
        """Block until durable; return where ("database" or "spool").

        Raises the error that refused the rows (e.g. errors.UniqueViolation), or WriteTimeout
        after `timeout` seconds (default: the writer's ack_timeout_s). A timed-out wait gives
        up on the rows: if the writer has not taken them yet they are withdrawn and never
        written (WriteTimeout.written is False). Poll with `done`, not with wait(0).
        """
        if timeout is None:
            timeout = self._writer.ack_timeout_s if self._writer else 0.0
        if not self._event.wait(timeout):
            withdrawn = self._writer is not None and self._writer._withdraw(self, timeout)
            if not withdrawn and not self._event.is_set():  # else settled in the meantime
                raise WriteTimeout(f"rows not durable within {timeout:g} s", written=None)
        if self.error is not None:
            raise self.error
        return self.durable  # type: ignore[return-value]

    def _settle(self, durable: str | None, error: BaseException | None = None) -> None:
        self.durable, self.error, self._state = durable, error, _DONE
        self._event.set()


class Writer:
    """The process's group-commit writer; see the module docstring."""

    def __init__(
        self,
        db,
        spool: Spool,
        *,
        max_batch: int = 500,
        max_wait_ms: float = 2.0,
        queue_max: int = 20000,
        ack_timeout_s: float = 5.0,
        backoff: Backoff | None = None,
        replay_interval_s: float = 0.5,
        acquire_timeout_s: float | None = None,
        commit_deadline_ms: float = 200.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_batch < 1 or queue_max < 1:
            raise ValueError("max_batch and queue_max must be >= 1")
        self.db, self.spool = db, spool
        self.max_batch, self.max_wait_s = max_batch, max_wait_ms / 1000.0
        self.queue_max, self.ack_timeout_s = queue_max, ack_timeout_s
        self.backoff = backoff or LOCK_WAIT_BACKOFF
        self.replay_interval_s = replay_interval_s
        # A borrow must not eat the acknowledgement budget: on an outage the batch still has to
        # reach the spool before its requests give up.
        self.acquire_timeout_s = (
            min(0.25, ack_timeout_s / 4) if acquire_timeout_s is None else acquire_timeout_s
        )
        self.commit_deadline_s = commit_deadline_ms / 1000.0
        self.clock = clock
        self._committer = Deadlines("db-commit")
        self._replay_job: Job | None = None  # a replay running on the committer thread
        self._mode_reason, self._mode_since = "", 0.0  # why and since when (unix time) spooling
        self._decision_keys = required_keys(db, INSERT_DECISION)
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Ticket] = deque()
        self._queued_rows = 0
        self._state = "new"
        self._stop_deadline = 0.0
        self._thread: threading.Thread | None = None
        self._spooling = False
        self._next_replay = 0.0
        self.figures = WriterStats()

    @classmethod
    def from_config(cls, db, spool: Spool, config) -> Writer:
        return cls(
            db,
            spool,
            max_batch=config["writer.max_batch"],
            max_wait_ms=config["writer.max_wait_ms"],
            queue_max=config["writer.queue_max"],
            ack_timeout_s=config["writer.ack_timeout_s"],
            # retry.max_attempts counts a transaction's attempts in all
            backoff=LOCK_WAIT_BACKOFF.with_(retries=config["retry.max_attempts"] - 1),
            commit_deadline_ms=config["writer.commit_deadline_ms"],
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Writer:
        """Open the spool (SpoolError if it cannot be) and start the writer thread; rows an
        earlier process left in the spool are replayed first."""
        with self._cond:
            if self._state != "new":
                raise RuntimeError(f"writer already {self._state}")
            self.spool.open()
            if self._refresh_spool_depth() > 0:
                depth = self.figures.spool_depth
                self._enter_spooling(
                    "spooled_by_earlier_run", f"{depth} rows spooled by an earlier run; replaying"
                )
            self._state = "running"
            self._thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Refuse new rows, drain the queue (to the database or the spool), join the thread.

        Spooled rows are replayed while the database answers and time remains; the rest stays
        in the spool for the next start. Returns False if the thread did not finish in time.
        """
        with self._cond:
            if self._state == "new":
                self._state = "stopped"
                return True
            if self._state == "running":
                self._state = "stopping"
                self._stop_deadline = self.clock() + timeout * 0.8
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("writer: thread still busy %g s after stop()", timeout)
                return False
        self._committer.close()
        self.spool.close()
        return True

    # -- intake ----------------------------------------------------------------------------------

    def submit(self, decisions: Sequence[dict] = (), outcomes: Sequence[dict] = ()) -> Ticket:
        """Queue one request's rows for the next group commit and return at once.

        Raises Overloaded when the queue has no room (ShuttingDown when not running), ValueError
        for a row that lacks a column of the insert or a request larger than the whole queue.
        """
        ticket = Ticket(self, list(decisions), list(outcomes), self.clock())
        self._check(ticket)
        if ticket.rows == 0:
            ticket._settle("database")
            return ticket
        with self._cond:
            if self._state != "running":
                raise ShuttingDown(f"writer is {self._state}", retry_after=1.0)
            if self._queued_rows + ticket.rows > self.queue_max:
                self.figures.overloaded += 1
                raise Overloaded(
                    f"writer queue full ({self._queued_rows} rows waiting)",
                    retry_after=self._retry_after(),
                )
            self._queue.append(ticket)
            self._queued_rows += ticket.rows
            self._cond.notify()
        return ticket

    def write(
        self,
        decisions: Sequence[dict] = (),
        outcomes: Sequence[dict] = (),
        timeout: float | None = None,
    ) -> str:
        """submit() then wait(): "database" or "spool" once durable; raises Overloaded,
        WriteTimeout or the error that refused the rows."""
        return self.submit(decisions, outcomes).wait(timeout)

    def _check(self, ticket: Ticket) -> None:
        """Reject malformed rows now, while the caller can still be told (a spooled row is only
        checked by the database at replay); outcomes get their canonical form and arrival time."""
        if ticket.rows > self.queue_max:
            raise ValueError(f"{ticket.rows} rows exceed writer.queue_max={self.queue_max}")
        for row in ticket.decisions:
            if not self._decision_keys <= row.keys():
                missing = ", ".join(sorted(self._decision_keys - row.keys()))
                raise ValueError(f"decision row lacks {missing}")
        try:
            ticket.outcomes = [store.outcome_row(row, "") for row in ticket.outcomes]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed outcome row: {exc!r}") from exc

    def _withdraw(self, ticket: Ticket, timeout: float) -> bool:
        """Take a timed-out ticket back if the writer has not taken it yet: it will never be
        written, and the ticket fails with WriteTimeout(written=False)."""
        with self._cond:
            if ticket._state != _QUEUED:
                return False
            self._queue.remove(ticket)
            self._queued_rows -= ticket.rows
            self.figures.withdrawn += 1
        ticket._settle(None, WriteTimeout(f"rows not taken within {timeout:g} s", written=False))
        return True

    def _retry_after(self) -> float:
        """Seconds until the backlog should have drained (called with the lock held)."""
        if self._spooling:
            return max(1.0, self.replay_interval_s)
        return max(0.1, min(5.0, self._queued_rows * self.figures.seconds_per_row()))

    # -- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            tickets, stopping = self._take()
            database_up = True
            try:
                if tickets:
                    self._write(tickets)
                if self._spooling:
                    database_up = self._drive_replay(force=stopping)
            except Exception as exc:  # the thread must survive anything, or writes stop for good
                log.exception("writer: unexpected error")
                for ticket in tickets:
                    if not ticket.done:
                        ticket._settle(None, exc)
            if (
                stopping
                and not tickets
                and (not self._spooling or not database_up or self.clock() >= self._stop_deadline)
            ):
                break
            if stopping and self._replay_job is not None:
                self._replay_job.done.wait(0.05)  # no spinning while a replay runs
        if self._replay_job is not None:  # the spool closes after this: let it finish first
            self._replay_job.done.wait(max(0.0, self._stop_deadline - self.clock()))
        with self._cond:
            self._state = "stopped"
        log.info("writer stopped; %d rows left in the spool", self._refresh_spool_depth())

    def _take(self) -> tuple[list[Ticket], bool]:
        """Wait for rows (or a due replay), gather up to max_batch rows or max_wait after the
        oldest arrived, and take them."""
        with self._cond:
            while not self._queue and self._state == "running":
                idle = self._idle_s()
                if idle <= 0:
                    break
                self._cond.wait(min(idle, 1.0))
            if self._queue and self._state == "running":
                deadline = self._queue[0].submitted_at + self.max_wait_s
                while self._queued_rows < self.max_batch and self._state == "running":
                    remaining = deadline - self.clock()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            tickets, rows = [], 0
            while self._queue and (not tickets or rows + self._queue[0].rows <= self.max_batch):
                ticket = self._queue.popleft()
                ticket._state = _TAKEN
                rows += ticket.rows
                tickets.append(ticket)
            self._queued_rows -= rows
            return tickets, self._state != "running"

    def _idle_s(self) -> float:
        """How long the writer thread may sleep with no rows queued (lock held)."""
        if self._replay_job is not None:  # its end notifies; until then nothing is due
            return 0.0 if self._replay_job.done.is_set() else 1.0
        return self._next_replay - self.clock() if self._spooling else 1.0

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _write(self, tickets: list[Ticket]) -> None:
        if self._spooling:
            self._to_spool(tickets)  # keep the order: nothing overtakes what is spooled
            return
        fresh = _refuse_repeats(tickets, self._refuse)
        try:
            self._commit_isolating(fresh)
        except _RETRYABLE as exc:
            rest = [t for t in fresh if not t.done]
            if isinstance(exc, DeadlineExceeded):
                self.figures.add(deadline_diversions=1, deadline_diverted_rows=sum(
                    t.rows for t in rest))  # fmt: skip
                reason = "commit_deadline"
            else:
                reason = "database_unavailable"
            self._enter_spooling(reason, f"{type(exc).__name__}: {exc}; {len(rest)} requests")
            self._to_spool(rest)

    def _enter_spooling(self, reason: str, detail: str) -> None:
        """Once per episode: the WARNING operators see, never one per request."""
        self._spooling = True
        self._mode_reason, self._mode_since = reason, time.time()
        self._next_replay = self.clock() + self.replay_interval_s
        log.warning("writer: spooling mode (%s): %s", reason, detail)

    def _leave_spooling(self) -> None:
        log.warning(
            "writer: spool replayed; writing to the database again after %.1f s of spooling (%s)",
            time.time() - self._mode_since,
            self._mode_reason,
        )
        self._spooling = False
        self._mode_reason, self._mode_since = "", 0.0

    def _commit_isolating(self, tickets: list[Ticket]) -> None:
        """Commit the tickets as one batch; if the database refuses it, split it in halves
        until each refused ticket stands alone. Retryable errors propagate."""
        if not tickets:
            return
        started = self.clock()
        try:
            self._transact(
                lambda conn: _store_batch(self.db, conn, tickets, new_decision_id()),
                deadline=tickets[0].submitted_at + self.ack_timeout_s / 2,
            )
        except _RETRYABLE:
            raise
        except Exception as exc:
            if len(tickets) == 1:
                self._refuse(tickets[0], exc)
                return
            half = len(tickets) // 2
            self._commit_isolating(tickets[:half])
            self._commit_isolating(tickets[half:])
            return
        self.figures.committed(sum(t.rows for t in tickets), self.clock() - started)
        for ticket in tickets:
            ticket._settle("database")

    def _refuse(self, ticket: Ticket, exc: BaseException) -> None:
        self.figures.refused += 1
        ticket._settle(None, exc)

    def _transact(self, work: Callable[[Any], T], *, deadline: float) -> T:
        """work(conn) in one transaction within the commit deadline, retrying transient errors
        with the writer's backoff while it and the deadline allow; DeadlineExceeded when the
        database did not answer in time."""
        deadline = min(deadline, self.clock() + self.commit_deadline_s)
        return self.backoff.with_(clock=self.clock).call(
            lambda: self._bounded(work, deadline - self.clock()),
            retry_if=errors.is_transient,
            deadline=deadline,
        )

    def _bounded(self, work: Callable[[Any], T], seconds: float) -> T:
        """One transaction on the committer thread, waited for `seconds` at most. A replay
        already runs there (under its own deadline), so it runs its transactions directly."""

        def attempt() -> T:
            with _transaction(self.db, self.acquire_timeout_s) as conn:
                return work(conn)

        if current_job() is not None:
            return attempt()
        return self._committer.run(attempt, max(0.001, seconds))

    # -- spool -----------------------------------------------------------------------------------

    def _to_spool(self, tickets: list[Ticket]) -> None:
        if not tickets:
            return
        try:
            results = self.spool.append([_spool_items(t) for t in tickets])
        except SpoolError as exc:
            log.error(
                "writer: database and spool both unavailable; %d requests refused: %s",
                len(tickets),
                exc,
            )
            for ticket in tickets:
                ticket._settle(None, errors.DatabaseUnavailable(f"database down, spool: {exc}"))
            if self.figures.spool_depth == 0:
                self._spooling = False  # nothing is spooled: the next batch tries the database
            return
        spooled = sum(t.rows for t, error in zip(tickets, results, strict=True) if not error)
        self.figures.add(spooled_rows=spooled, spool_depth=spooled)
        for ticket, error in zip(tickets, results, strict=True):
            if error is None:
                ticket._settle("spool")
            else:
                self._refuse(ticket, error)

    def _drive_replay(self, *, force: bool = False) -> bool:
        """Start a replay of one spool chunk on the committer thread when due, or take the
        result of the one running; False while the database is not answering."""
        job = self._replay_job
        if job is not None:
            if not job.done.is_set():
                return True
            self._replay_job = None
            answered = self._replayed(job)
            if not answered or not self._spooling:
                return answered
        if not force and self.clock() < self._next_replay:
            return True
        if self._committer.busy:  # an abandoned commit still runs: a probe would queue
            self._next_replay = self.clock() + self.replay_interval_s
            return False
        self._replay_job = self._committer.submit(
            self._replay_chunk, self.commit_deadline_s, on_done=self._wake
        )
        return True

    def _replay_chunk(self) -> int:
        """On the committer thread: replay the oldest chunk; how many entries it held."""
        entries = self.spool.peek(self.max_batch)
        self._replay(entries)
        return len(entries)

    def _replayed(self, job: Job) -> bool:
        """Judge a finished replay: go back to the database when it emptied the spool within
        the deadline (the probe), else go on (at once) or retry after replay_interval_s."""
        try:
            replayed = job.result_or_raise()
        except (*_RETRYABLE, errors.UniqueViolation) as exc:
            # UniqueViolation: another process replayed the same rows just now; the next
            # attempt finds them present and skips them.
            log.info("writer: replay postponed: %s: %s", type(exc).__name__, exc)
        except Exception:  # e.g. a schema not deployed: keep the rows, retry, say so loudly
            log.exception("writer: replay failed; the rows stay in the spool")
        else:
            if job.late:  # done, but the database is still slower than the deadline
                self._next_replay = self.clock() + self.replay_interval_s
            elif replayed < self.max_batch and self._refresh_spool_depth() == 0:
                self._leave_spooling()
            return True
        self._next_replay = self.clock() + self.replay_interval_s
        return False

    def _replay(self, entries: list[SpoolEntry]) -> None:
        """Apply entries idempotently, then delete them from the spool. A row the database
        refuses for good (constraint, procedure error) is isolated by halving and moved to the
        dead letters; any other error postpones the replay."""
        if not entries:
            return
        try:
            applied, dropped = self._transact(
                lambda conn: _apply_idempotent(self.db, conn, entries, new_decision_id()),
                deadline=self.clock() + self.ack_timeout_s,
            )
        except _REFUSED_FOR_GOOD as exc:
            if len(entries) > 1:
                half = len(entries) // 2
                self._replay(entries[:half])
                self._replay(entries[half:])
                return
            log.error(
                "writer: spooled %s %s refused by the database, kept in dead_letters: %s",
                entries[0].kind,
                entries[0].key,
                exc,
            )
            self.spool.dead_letter(entries[0], f"{type(exc).__name__}: {exc}")
            self.figures.add(dead_letters=1, spool_depth=-1)
            return
        self.spool.delete(e.seq for e in entries)  # only after the commit: see module docstring
        if dropped:
            log.warning(
                "writer: dropped %d spooled outcomes acknowledged while the database was down: "
                "it already holds another outcome for decisions %s",
                len(dropped),
                ", ".join(dropped[:5]),
            )
        self.figures.add(
            replayed_rows=applied,
            replay_skipped_rows=len(entries) - applied,
            replay_dropped_duplicates=len(dropped),
            spool_depth=-len(entries),
        )

    def _refresh_spool_depth(self) -> int:
        try:
            self.figures.spool_depth = self.spool.depth()
        except SpoolError as exc:
            log.error("writer: cannot read the spool depth: %s", exc)
        return self.figures.spool_depth

    # -- figures ---------------------------------------------------------------------------------

    def stats(self) -> dict:
        """Figures for /api/v1/system/db, /readyz and /metrics (never blocks on I/O)."""
        with self._cond:
            head = {
                "mode": "spooling" if self._spooling else "database",
                "state": self._state,
                "queue_depth_rows": self._queued_rows,
                "queue_depth_requests": len(self._queue),
                "queue_max": self.queue_max,
                "mode_reason": self._mode_reason,
                "spooling_since_unix_s": self._mode_since,
                "commit_deadline_ms": self.commit_deadline_s * 1000,
                "commits_abandoned": self._committer.abandoned,
                "abandoned_commits_finished_late": self._committer.completed_late,
            }
        return {**head, **self.figures.as_dict()}


# -- database glue -----------------------------------------------------------------------------
# Decisions are bound to the store's insert-decision query as given; outcomes go through
# store.decisions.save_metrics_batch (insert-outcome + SP_APPLY_OUTCOMES), both on the writer's
# connection inside its transaction.

INSERT_DECISION = "insert-decision"
GET_DECISION = "get-decision"
GET_OUTCOME = "get-outcome"


def required_keys(db, query: str) -> frozenset[str]:
    """The named parameters of a query: the keys every row bound to it must carry (none known
    while the dialect lacks the query; the first write then fails and says so)."""
    return frozenset(to_qmark(db.backend.sql.queries.get(query, ""))[1])


@contextmanager
def _transaction(db, acquire_timeout: float) -> Iterator[Any]:
    """db.transaction() with a bounded borrow, telling a busy pool from a database that is down.

    A borrow that timed out while connections exist and are all lent out is a busy pool: a
    transient error, retried within the batch's deadline before any spooling.
    """
    try:
        with db.transaction(acquire_timeout) as conn:
            yield conn
    except errors.DatabaseUnavailable as exc:
        if isinstance(exc.__cause__, PoolError) and db.pool.stats()["active"] > 0:
            raise errors.TransientError(f"pool busy: {exc}") from exc
        raise


def _refuse_repeats(
    tickets: list[Ticket], refuse: Callable[[Ticket, Exception], None]
) -> list[Ticket]:
    """Refuse a request whose row repeats a DECISION_ID earlier in the batch (first wins)."""
    seen: set[tuple[str, str]] = set()
    fresh = []
    for ticket in tickets:
        keys = [("decision", r["decision_id"]) for r in ticket.decisions]
        keys += [("outcome", r["decision_id"]) for r in ticket.outcomes]
        if len(set(keys)) != len(keys) or seen.intersection(keys):
            kind, key = next(k for k in keys if k in seen or keys.count(k) > 1)
            refuse(ticket, errors.UniqueViolation(f"{kind} {key} is already recorded"))
            continue
        seen.update(keys)
        fresh.append(ticket)
    return fresh


def _store_batch(db, conn, tickets: list[Ticket], batch_id: str) -> None:
    """One batch insert per table and one SP_APPLY_OUTCOMES call for the whole batch."""
    decisions = [row for ticket in tickets for row in ticket.decisions]
    outcomes = [row for ticket in tickets for row in ticket.outcomes]
    _insert(db, conn, decisions, outcomes, batch_id)


def _insert(db, conn, decisions: list[dict], outcomes: list[dict], batch_id: str) -> None:
    """Insert, then apply the outcomes; an outcome whose decision is missing (its insert copies
    from the decision, so it stores nothing) fails the transaction with UnknownDecision."""
    db.executemany(conn, INSERT_DECISION, decisions)
    if outcomes:
        missing = store.save_metrics_batch(db, outcomes, batch_id, conn=conn)["missing"]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise UnknownDecision(f"no decision {missing[0]}{more}")


def _spool_items(ticket: Ticket) -> list[tuple[str, str, dict]]:
    return [("decision", row["decision_id"], row) for row in ticket.decisions] + [
        ("outcome", row["decision_id"], row) for row in ticket.outcomes
    ]


def _apply_idempotent(db, conn, entries: list[SpoolEntry], batch_id: str) -> tuple[int, list]:
    """Insert the spooled rows the database does not hold yet and apply exactly those outcomes
    (only they carry this batch id).

    Returns (rows inserted, decision ids of spooled outcomes dropped because the database holds
    a different outcome: a second outcome acknowledged while the database was down).
    """
    decisions, outcomes, dropped = [], [], []
    for entry in entries:
        if entry.kind == "decision":
            if not db.query(conn, GET_DECISION, {"decision_id": entry.key}):
                decisions.append(entry.row)
            continue
        found = db.query(conn, GET_OUTCOME, {"decision_id": entry.key})
        if not found:
            outcomes.append(entry.row)
        elif db_time(found[0]["recorded_at"]) != entry.row["recorded_at"]:
            dropped.append(entry.key)  # same time: this very row, committed before a crash
    _insert(db, conn, decisions, outcomes, batch_id)
    return len(decisions) + len(outcomes), dropped
