"""The router's catalog snapshot, loaded from the database and swapped atomically on change.

The hot path reads `current()` (one attribute read); writers of models, agents or assignments
call `reload()`, which builds a new snapshot and only then invalidates the ranking cache, so a
ranking is never cached against a catalog older than the one it was computed from. While the
database is down the last snapshot stays in force, so routing goes on from cached assignments.
The periodic refresh reads within REFRESH_DEADLINE_S (app.db.deadline): a slow or deaf database
costs the background loop that long, then the last snapshot stays in force.
"""

from __future__ import annotations

import logging
import threading

from app.db import store
from app.routing import EMPTY_CATALOG, AgentView, Assignment, Catalog, ModelView

log = logging.getLogger(__name__)
PAGE = 1000
# a whole catalog, paged: longer than one request's read, short enough that the background loop
# (health, alerts, reconcile) keeps its pace while the database does not answer
REFRESH_DEADLINE_S = 2.0


def _all(list_page, db) -> list[dict]:
    items, after = [], None
    while True:
        page = list_page(db, after=after, limit=PAGE)
        items.extend(page)
        if len(page) < PAGE:
            return items
        after = page[-1]["id"]


def model_view(m: dict) -> ModelView:
    return ModelView(
        id=m["id"],
        endpoint=m["endpoint"],
        context_window=int(m["context_window"]),
        capacity=int(m["max_concurrency"]),
        cost=float(m.get("cost_per_1k_tokens") or 0.0),
        prior_latency_ms=float(m.get("prior_latency_ms") or 1000.0),
        status=m["status"],
        capabilities=m.get("capabilities") or {},
    )


def agent_view(a: dict) -> AgentView:
    return AgentView(
        id=a["id"],
        task_type=a.get("task_type"),
        requirements=a.get("requirements") or {},
        min_context=int(a.get("min_context") or 0),
        max_latency_ms=a.get("max_latency_ms"),
        max_cost_per_1k=a.get("max_cost_per_1k"),
        priority=int(a.get("priority") or 0),
        status=a["status"],
    )


class CatalogState:
    def __init__(self, db, cache) -> None:
        self._db = db
        self._cache = cache
        self._catalog: Catalog = EMPTY_CATALOG
        self._lock = threading.Lock()  # one reload at a time; readers never wait
        self._content: tuple = ()
        self.records: tuple[list[dict], list[dict]] = ([], [])  # as last read
        self.loaded = False

    def current(self) -> Catalog:
        return self._catalog

    def reload(self, *, only_if_changed: bool = False) -> Catalog:
        """Read models, agents and active assignments; swap; then invalidate rankings.

        With only_if_changed (the periodic refresh that picks up writes made by other hosts or
        the CLI) an identical catalog is not swapped, so cached rankings stay warm, and the
        reads are bounded by REFRESH_DEADLINE_S (DeadlineExceeded).
        """
        with self._lock:
            if only_if_changed:
                read = self._db.bounded(self._read, seconds=REFRESH_DEADLINE_S)
            else:
                read = self._read()
            model_records, agent_records, assignment_records = read
            self.records = (model_records, agent_records)  # for scoring: one read, not two
            models = tuple(model_view(m) for m in model_records)
            agents = tuple(agent_view(a) for a in agent_records)
            active = tuple(
                Assignment(a["agent_id"], a["model_id"], a["assignment_id"], a["score"] or 0.0)
                for a in assignment_records
            )
            content = (models, agents, active)
            if only_if_changed and self.loaded and content == self._content:
                return self._catalog
            catalog = Catalog.build(models, agents, active)
            self._catalog, self._content = catalog, content
            self._cache.invalidate_all()
            self.loaded = True
        return catalog

    def _read(self) -> tuple[list[dict], list[dict], list[dict]]:
        return (
            _all(store.list_models, self._db),
            _all(store.list_agents, self._db),
            store.get_active_assignments(self._db),
        )

    def try_reload(self) -> bool:
        try:
            self.reload()
            return True
        except Exception as exc:  # the database may be down: keep routing on the last snapshot
            log.warning("catalog reload failed, keeping the last snapshot: %s", type(exc).__name__)
            return False
