"""The service's long-lived parts, built once per app by create_app and stopped with it."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from app.db import deploy
from app.db.database import Database

log = logging.getLogger(__name__)


@dataclass
class Readiness:
    """Cached result of the migrations check: yoyo opens its own connection, so not per probe."""

    ttl_s: float = 10.0
    _checked_at: float = field(default=-1e9)
    _pending: list[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def pending_migrations(self, db: Database) -> list[str]:
        with self._lock:
            if self._pending is not None and time.monotonic() - self._checked_at < self.ttl_s:
                return self._pending
        pending = deploy.pending_migrations(db.backend)
        with self._lock:
            self._pending, self._checked_at = pending, time.monotonic()
        return pending


@dataclass
class Services:
    config: object
    db: Database
    readiness: Readiness = field(default_factory=Readiness)
    started: bool = False

    @classmethod
    def build(cls, config) -> Services:
        return cls(config=config, db=Database.from_config(config))

    def start(self) -> None:
        self.db.start()  # tolerates a database that is down: the pool refills by itself
        self.started = True

    def stop(self) -> None:
        self.db.close()
        self.started = False

    def ready(self) -> tuple[bool, dict]:
        """Is the service able to serve? (database reachable, migrations current)."""
        detail: dict = {"database": "ok", "migrations": "current", "pool": self.db.pool.stats()}
        try:
            self.db.ping()
        except Exception as exc:
            detail["database"] = f"unreachable: {type(exc).__name__}: {exc}"
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
