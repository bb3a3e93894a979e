"""The service's operations, between the HTTP layer and the parts that do the work.

Route: the router decides in memory, the decision row goes to the group-commit writer, and the
answer leaves only once the row is durable (database or spool). Outcome: the outcome row is made
durable first (the database refuses a second one), then the router learns from it. Auto-assign:
scores and matching in Python over the catalog, persistence and activation in the database.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid

import numpy as np
from cachetools import TTLCache

from app import problems
from app.db import errors, store
from app.db.store.decisions import decision_row
from app.db.writer import Overloaded, UnknownDecision, WriteTimeout
from app.matching import compare
from app.routing import NoModelAvailable, QuotaExceeded, UnknownAgent, UnknownStrategy
from app.scoring import build_inputs, score_matrix

log = logging.getLogger(__name__)
ROUTE_FIELDS = (
    "decision_id",
    "model_id",
    "endpoint",
    "fallbacks",
    "strategy",
    "score",
    "cache_hit",
    "reason",
)


class RecentDecisions:
    """Decisions made by this process until their outcome arrives: a TTL cache behind a lock
    (cachetools caches are not thread-safe, and every request thread uses this one)."""

    def __init__(self, maxsize: int, ttl_s: float) -> None:
        self._cache: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._lock = threading.Lock()

    def put(self, decision_id: str, decision: dict) -> None:
        with self._lock:
            self._cache[decision_id] = decision

    def get(self, decision_id: str) -> dict | None:
        with self._lock:
            return self._cache.get(decision_id)

    def pop(self, decision_id: str) -> dict | None:
        with self._lock:
            return self._cache.pop(decision_id, None)


def _unavailable(exc: Exception) -> problems.Unavailable:
    retry = getattr(exc, "retry_after", 1.0)
    return problems.Unavailable(f"not accepted now: {exc}", retry_after=max(1, math.ceil(retry)))


class Engine:
    def __init__(
        self,
        *,
        db,
        writer,
        router,
        catalog,
        ack_timeout_s: float,
        recent_max: int = 50_000,
        recent_ttl_s: float = 300.0,
    ) -> None:
        self.db, self.writer, self.router, self.catalog = db, writer, router, catalog
        self.ack_timeout_s = ack_timeout_s
        # Decisions made here, kept until their outcome: an outcome finds its decision without a
        # database read, and finds it even while the decision row is still in the spool.
        self._recent = RecentDecisions(recent_max, recent_ttl_s)

    # -- route and outcomes ---------------------------------------------------------------------

    def route(
        self,
        agent_id: str,
        task_type: str | None,
        prompt_tokens: int | None,
        strategy: str | None,
        key_id: str | None = None,
    ) -> dict:
        try:
            decision = self.router.route(agent_id, task_type, prompt_tokens or 0, strategy, key_id)
        except QuotaExceeded as exc:
            raise problems.TooManyRequests(str(exc)) from None
        except UnknownAgent as exc:
            raise problems.NotFound(str(exc)) from None
        except UnknownStrategy as exc:
            raise problems.InvalidInput(
                str(exc), field_errors=[{"field": "strategy", "reason": str(exc)}]
            ) from None
        except NoModelAvailable as exc:
            raise problems.Unavailable(f"no model available: {exc.reason}") from None
        body = decision.to_dict()
        try:
            self.writer.write([decision_row(body)], [], timeout=self.ack_timeout_s)
        except (Overloaded, WriteTimeout) as exc:
            self.router.abandon(decision.decision_id, decision.model_id)
            raise _unavailable(exc) from None
        except BaseException:  # not acknowledged, whatever the reason: release its load
            self.router.abandon(decision.decision_id, decision.model_id)
            raise
        self._recent.put(decision.decision_id, body)
        return {k: body[k] for k in ROUTE_FIELDS}

    def decision(self, decision_id: str) -> dict:
        """One decision with its outcome: the database's, or this host's while it is spooled."""
        try:
            found = self.db.bounded(store.get_decision, self.db, decision_id)
        except errors.DatabaseUnavailable:  # down or slow (DeadlineExceeded): answer from memory
            if self._recent.get(decision_id) is None:
                raise
            found = None
        if found is not None:
            return found
        known = self._recent.get(decision_id)
        if known is None:
            raise problems.NotFound(f"no decision {decision_id}")
        return {**known, "outcome": None}

    def _decision(self, decision_id: str) -> tuple[dict, bool]:
        """The decision and whether this process made it (and so counts it in flight)."""
        known = self._recent.get(decision_id)
        if known is not None:
            return known, True
        # made elsewhere: a database read, bounded (a slow database answers 503, Retry-After)
        found = self.db.bounded(store.get_decision, self.db, decision_id)
        if found is None:
            raise problems.NotFound(f"no decision {decision_id}")
        return found, False

    def _outcome_row(self, decision: dict, outcome: dict) -> dict:
        return {
            "decision_id": decision["decision_id"],
            "model_id": decision["model_id"],
            "agent_id": decision["agent_id"],
            **{name: outcome.get(name) for name in store.OUTCOME_FIELDS},
            "success": bool(outcome["success"]),
            "recorded_at": store.now(),
        }

    def record_outcome(self, decision_id: str, outcome: dict) -> dict:
        decision, made_here = self._decision(decision_id)
        if decision.get("outcome"):
            raise problems.Conflict(f"decision {decision_id} already has an outcome")
        row = self._outcome_row(decision, outcome)
        try:
            self.writer.write([], [row], timeout=self.ack_timeout_s)
        except errors.UniqueViolation:
            raise problems.Conflict(f"decision {decision_id} already has an outcome") from None
        except UnknownDecision:
            raise problems.NotFound(f"no decision {decision_id}") from None
        except (Overloaded, WriteTimeout) as exc:
            raise _unavailable(exc) from None
        self._learn(decision, row, made_here)
        return self._with_outcome(decision, row)

    def record_outcomes(self, items: list[dict]) -> list[dict]:
        """Many outcomes: all submitted at once (one group commit), each judged on its own."""
        pending, results = [], []
        for item in items:
            decision_id = item["decision_id"]
            try:
                decision, made_here = self._decision(decision_id)
                if decision.get("outcome"):
                    raise problems.Conflict("already has an outcome")
                row = self._outcome_row(decision, item)
                ticket = self.writer.submit([], [row])
                pending.append((len(results), decision, made_here, row, ticket))
                results.append({"decision_id": decision_id, "status": 202})
            except problems.Problem as exc:
                results.append(
                    {"decision_id": decision_id, "status": exc.status, "detail": exc.detail}
                )
            except (Overloaded, errors.DatabaseError) as exc:  # this item only; go on
                results.append({"decision_id": decision_id, "status": 503, "detail": str(exc)})
        deadline = time.monotonic() + self.ack_timeout_s  # one budget for the whole batch
        for index, decision, made_here, row, ticket in pending:
            results[index] = self._settle(ticket, decision, made_here, row, deadline)
        return results

    def _settle(self, ticket, decision: dict, made_here: bool, row: dict, deadline: float) -> dict:
        decision_id = decision["decision_id"]
        try:
            # never wait(0): a timed-out wait withdraws rows the writer has not taken yet
            ticket.wait(max(0.01, deadline - time.monotonic()))
        except errors.UniqueViolation:
            return {"decision_id": decision_id, "status": 409, "detail": "already has an outcome"}
        except UnknownDecision:
            return {"decision_id": decision_id, "status": 404, "detail": "no such decision"}
        except Exception as exc:  # every ticket is awaited; one failure answers for itself
            log.warning("outcome of %s not stored: %s", decision_id, type(exc).__name__)
            return {"decision_id": decision_id, "status": 503, "detail": "not stored, retry"}
        self._learn(decision, row, made_here)
        return {"decision_id": decision_id, "status": 201}

    def _learn(self, decision: dict, row: dict, made_here: bool) -> None:
        self._recent.pop(decision["decision_id"])
        args = (decision["model_id"], row["success"], float(row["latency_ms"]))
        if not self.router.record_outcome(decision["decision_id"], *args) and not made_here:
            # decided by another host or an earlier process: learn, with no load to release
            # (a decision made here that is no longer in flight expired or was reconciled, and
            # was learned then)
            self.router.record_outcome(None, *args)

    def fetch_outcomes(self, decision_ids: list[str]) -> dict[str, tuple[bool, float]]:
        """Outcomes stored for decisions still open here (posted to another host)."""
        found = {}
        for decision_id in decision_ids:
            decision = store.get_decision(self.db, decision_id)
            outcome = decision and decision.get("outcome")
            if outcome:
                found[decision_id] = (bool(outcome["success"]), float(outcome["latency_ms"]))
        return found

    @staticmethod
    def _with_outcome(decision: dict, row: dict) -> dict:
        outcome = {k: row[k] for k in store.OUTCOME_FIELDS}
        outcome["recorded_at"] = store.api_time(row["recorded_at"])
        return {**decision, "outcome": outcome}

    # -- catalog and assignments ----------------------------------------------------------------

    def catalog_changed(self) -> None:
        self.catalog.reload()

    def _score_inputs(self):
        catalog = self.catalog.reload()
        models, agents = self.catalog.records
        health = store.get_model_health(self.db)
        return catalog, build_inputs(models, agents, health)

    def scores(self) -> dict:
        _, inputs = self._score_inputs()
        matrix = score_matrix(inputs)
        return {
            "agents": list(matrix.agent_ids),
            "models": list(matrix.model_ids),
            "scores": np.round(matrix.scores, 6).tolist(),
            "feasible": matrix.feasible.tolist(),
        }

    def auto_assign(self, method: str, dry_run: bool) -> dict:
        catalog, inputs = self._score_inputs()
        matrix = score_matrix(inputs)
        agent_index = {a: i for i, a in enumerate(matrix.agent_ids)}
        model_index = {m: j for j, m in enumerate(matrix.model_ids)}
        pins = {
            agent_index[a.agent_id]: model_index[a.model_id]
            for a in self._manual_pins(catalog)
            if a.agent_id in agent_index and a.model_id in model_index
        }
        result = compare(
            matrix.scores, matrix.feasible, inputs.capacity, pins=pins, priority=inputs.priority
        )
        chosen = result.hungarian if method == "hungarian" else result.greedy
        assignments = [
            {
                "agent_id": matrix.agent_ids[a],
                "model_id": matrix.model_ids[m],
                "score": round(float(s), 6),
                "method": "manual" if a in pins else method,
            }
            for a, m, s in chosen.pairs
        ]
        run = {
            "run_id": str(uuid.uuid4()),
            "method": method,
            "dry_run": dry_run,
            "total_score": round(float(chosen.total_score), 6),
            "greedy_total_score": round(float(result.greedy.total_score), 6),
            "improvement_pct": round(float(result.improvement_pct), 4),
            "unassigned": [
                {"agent_id": matrix.agent_ids[a], "reason": reason}
                for a, reason in chosen.unassigned
            ],
        }
        if not dry_run and assignments:  # a run that places nobody has nothing to activate
            store.create_assignment_run(self.db, run, assignments, activate=True)
            self.catalog.reload()
        return {
            **run,
            "assignments": [
                {k: a[k] for k in ("agent_id", "model_id", "score")} for a in assignments
            ],
        }

    def _manual_pins(self, catalog):
        manual = {
            a["agent_id"] for a in store.get_active_assignments(self.db) if a["method"] == "manual"
        }
        return [a for a in catalog.assignments.values() if a.agent_id in manual]

    def pin(self, agent_id: str, model_id: str) -> dict:
        agent = store.get_agent(self.db, agent_id)
        if agent is None:
            raise problems.NotFound(f"no agent {agent_id}")
        model = store.get_model(self.db, model_id)
        if model is None:
            raise problems.NotFound(f"no model {model_id}")
        if model["status"] != "active":
            raise problems.Conflict(f"model {model_id} is {model['status']}")
        assignment = store.pin_assignment(self.db, agent_id, model_id)
        self.catalog.reload()
        return assignment

    # -- figures --------------------------------------------------------------------------------

    def load(self) -> list[dict]:
        cooling = {c["model_id"]: c for c in self.router.cooldowns()}
        return [
            {**row, "cooldown": cooling.get(row["model_id"])} for row in self.router.model_status()
        ]

    def cooldowns(self) -> list[dict]:
        return self.router.cooldowns()

    def db_figures(self) -> dict:
        return {
            "pool": self.db.stats(),
            "writer": self.writer.stats(),
            "cache": self.router.cache.stats(),
        }
