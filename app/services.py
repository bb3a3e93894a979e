"""The service's long-lived parts, built once per app by create_app and stopped with it."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field

from app.alerts import AlertNotifier
from app.background import Background, Task
from app.catalog_state import CatalogState
from app.db import deploy, errors, store
from app.db.database import Database
from app.db.deadline import DeadlineExceeded, Deadlines
from app.db.spool import Spool
from app.db.writer import Writer
from app.engine import Engine
from app.routing import Quotas, Router
from app.routing.cache import RankingCache
from app.routing.load import LoadTracker

log = logging.getLogger(__name__)


def _pending_migrations(db: Database) -> list[str]:
    with db.read() as conn:
        return deploy.pending_migrations(db.backend, conn)


@dataclass
class Readiness:
    """Cached result of the migrations check (one SELECT of yoyo's table, compared with the
    migration files): probes come every few seconds per orchestrator, the answer changes only
    on deploy. A slow database stalls even a read, so the check runs on a worker of its own,
    waited for `deadline_s`, and a probe answers the last known result while a check is slow
    (at most one stalled check)."""

    ttl_s: float = 10.0
    deadline_s: float = 1.0
    _checked_at: float = field(default=-1e9)
    _pending: list[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _runner: Deadlines = field(default_factory=lambda: Deadlines("readiness"))

    def pending_migrations(self, db: Database) -> list[str]:
        with self._lock:
            if self._pending is not None and time.monotonic() - self._checked_at < self.ttl_s:
                return self._pending
            last = self._pending
        if last is not None and self._runner.busy:
            return last
        try:
            pending = self._runner.run(lambda: _pending_migrations(db), self.deadline_s)
        except DeadlineExceeded:
            if last is None:
                raise
            return last
        with self._lock:
            self._pending, self._checked_at = pending, time.monotonic()
        return pending

    def close(self) -> None:
        self._runner.close()


@dataclass
class Services:
    config: object
    db: Database
    writer: Writer
    router: Router
    catalog: CatalogState
    engine: Engine
    alerts: AlertNotifier
    background: Background
    maintenance: Background  # the retention purge, on its own thread
    readiness: Readiness = field(default_factory=Readiness)
    started: bool = False

    @classmethod
    def build(cls, config) -> Services:
        db = Database.from_config(config)
        writer = Writer.from_config(db, Spool.from_config(config), config)
        load = LoadTracker(config["load.inflight_timeout_s"])
        cache = RankingCache(config["cache.ttl_s"], config["cache.max_entries"])
        catalog = CatalogState(db, cache)
        router = Router(
            catalog.current,
            load,
            cache,
            default_strategy=config["routing.default_strategy"],
            cooldown_failures=config["routing.cooldown_failures"],
            cooldown_error_rate=config["routing.cooldown_error_rate"],
            cooldown_seconds=config["routing.cooldown_seconds"],
            quotas=Quotas(config["quota.key_share"], config["quota.agent_share"]),
        )
        engine = Engine(
            db=db,
            writer=writer,
            router=router,
            catalog=catalog,
            ack_timeout_s=config["writer.ack_timeout_s"],
            recent_ttl_s=config["load.inflight_timeout_s"],
        )
        alerts = AlertNotifier(
            db,
            webhook_url=config["alerts.webhook_url"],
            webhook_timeout_s=config["alerts.webhook_timeout_s"],
        )
        background = Background(_tasks(config, db, router, catalog, alerts, engine))
        return cls(
            config=config,
            db=db,
            writer=writer,
            router=router,
            catalog=catalog,
            engine=engine,
            alerts=alerts,
            background=background,
            maintenance=_maintenance(config, db),
        )

    def start(self) -> None:
        self.db.start()  # tolerates a database that is down: the pool refills by itself
        self.writer.start()
        self.catalog.try_reload()
        # a known answer for probes while the database is slow later (down now: probes retry)
        with contextlib.suppress(Exception):
            self.readiness.pending_migrations(self.db)
        self.alerts.start()
        if self.config["background.enabled"]:
            self.background.start()
            if self.maintenance.tasks:
                self.maintenance.start()
        self.started = True

    def stop(self) -> None:
        """Stop intake, drain the writer (to the database or the spool), then close."""
        if not self.started:
            return
        self.started = False
        self.background.stop()
        self.maintenance.stop()  # the purge ends after its current step
        # within the server's graceful window, part of which requests in flight already used;
        # acknowledged rows are durable either way, this drains what is still queued
        self.writer.stop(timeout=self.config["server.graceful_timeout_s"] / 2)
        self.alerts.stop()
        self.readiness.close()
        self.db.close()

    def ready(self) -> tuple[bool, dict]:
        """Is the service able to serve? (database reachable, migrations current, writer)."""
        writer = self.writer.stats()
        detail: dict = {
            "database": "ok",
            "migrations": "current",
            "pool": self.db.pool.stats(),
            "writer": writer.get("mode", "database"),
            "spool_depth": writer.get("spool_depth", 0),
        }
        if detail["writer"] == "spooling":  # degraded but serving: acknowledged from the spool
            since = time.gmtime(writer["spooling_since_unix_s"])
            detail["writer_reason"] = writer["mode_reason"]
            detail["writer_since"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", since)
            detail["status_detail"] = "degraded: decisions are spooled locally"
        try:
            # bounded: a probe must answer, not hang, while the database is down or deaf
            if not self.db.bounded(self.db.ping, 1.0, seconds=1.0):
                raise errors.DatabaseUnavailable("ping failed")
        except Exception as exc:
            # the probe is open to anyone: the driver's text (host, port, user) goes to the log
            log.warning("readiness: database unreachable: %s: %s", type(exc).__name__, exc)
            detail["database"] = f"unreachable: {type(exc).__name__}"
            detail["status_detail"] = "degraded: decisions are spooled locally"
            return False, detail
        try:
            pending = self.readiness.pending_migrations(self.db)
        except Exception as exc:
            detail["migrations"] = f"unknown: {type(exc).__name__}"
            return False, detail
        if pending:
            detail["migrations"] = f"pending: {', '.join(pending)}"
            return False, detail
        return True, detail


def _tasks(config, db, router, catalog, alerts, engine) -> list[Task]:
    def refresh_health() -> None:
        router.set_health(store.get_model_health(db))

    def snapshot_load() -> None:
        capacities = {m.id: m.capacity for m in catalog.current().models.values()}
        rows = router.load.snapshot(capacities)
        if rows:
            store.save_load_snapshots(db, rows)

    return [
        Task(
            "catalog",
            config["routing.catalog_refresh_s"],
            lambda: catalog.reload(only_if_changed=True),
        ),
        Task("health", config["routing.health_refresh_s"], refresh_health),
        Task("alerts", config["alerts.interval_s"], alerts.evaluate),
        Task("load_snapshots", config["load.snapshot_interval_s"], snapshot_load),
        Task("reconcile", 5.0, lambda: router.reconcile(engine.fetch_outcomes)),
    ]


def _maintenance(config, db) -> Background:
    """The retention purge on a thread of its own: at full load a run takes minutes of short
    steps, which must not delay the health refresh, alerts and reconcile of the main loop.
    A run stops after one interval at most; the next run continues where it stopped."""
    runner = Background([], name="maintenance")
    interval_s = config["retention.interval_s"]
    if interval_s > 0:
        runner.tasks.append(
            Task(
                "retention",
                interval_s,
                lambda: store.purge_history_in_steps(
                    db,
                    config["retention.days"],
                    max_rows=config["retention.batch_rows"],
                    pause_s=config["retention.pause_ms"] / 1000.0,
                    deadline_s=interval_s,
                    stop=runner.stopping,
                ),
            )
        )
    return runner
