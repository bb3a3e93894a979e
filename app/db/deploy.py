"""Migrations (yoyo) and the redeploy of every view and procedure under sql/<dialect>/.

yoyo runs post-apply hooks only when a migration was applied, so `migrate` redeploys the views and
procedures itself on every run: tables evolve through immutable migrations, while the logic in
views and procedures is replaced wholesale from the files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from yoyo import read_migrations

from app.db import errors
from app.db.backend import Backend
from app.db.sqlfiles import MIGRATIONS_ROOT, split_statements

log = logging.getLogger(__name__)


@dataclass
class DeployReport:
    applied: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    procedures: list[str] = field(default_factory=list)


def _migrations(dialect: str):
    return read_migrations(str(MIGRATIONS_ROOT / dialect))


def pending_migrations(backend: Backend, conn) -> list[str]:
    """Ids of migrations not yet applied (empty: the schema is current), read-only on `conn`.

    Readiness runs this as the least-privileged service user, so it only SELECTs yoyo's
    migration table: a yoyo backend would create its lock table and probe transactional DDL
    with a CREATE TABLE (HANA answers 258 to the service user). A schema never migrated has no
    such table: then every migration is pending.
    """
    migrations = _migrations(backend.dialect)
    try:
        rows = backend.execute(conn, backend.sql.queries["list-applied-migrations"])
    except errors.MissingObject:
        rows = []
    applied = {row["migration_hash"] for row in rows}
    return [m.id for m in migrations if m.hash not in applied]


def migrate(backend: Backend) -> DeployReport:
    """Apply pending migrations, then redeploy every view and procedure."""
    report = DeployReport()
    yb = backend.yoyo_backend()
    try:
        with yb.lock():
            todo = yb.to_apply(_migrations(backend.dialect))
            report.applied = [m.id for m in todo]
            yb.apply_migrations(todo)
    finally:
        yb.connection.close()
    report.views, report.procedures = redeploy_objects(backend)
    log.info(
        "migrate: %d migrations applied, %d views and %d procedures deployed",
        len(report.applied),
        len(report.views),
        len(report.procedures),
    )
    return report


def rollback_all(backend: Backend) -> list[str]:
    """Roll back every applied migration (newest first); views are dropped first."""
    drop_views(backend)
    yb = backend.yoyo_backend()
    try:
        with yb.lock():
            todo = yb.to_rollback(_migrations(backend.dialect))
            yb.rollback_migrations(todo)
            return [m.id for m in todo]
    finally:
        yb.connection.close()


def drop_views(backend: Backend) -> None:
    conn = backend.connect()
    try:
        for name in backend.sql.views:
            backend.drop_view(conn, name)
        backend.commit(conn)
    finally:
        conn.close()


def redeploy_objects(backend: Backend) -> tuple[list[str], list[str]]:
    """Create or replace every view and procedure; views may depend on each other."""
    catalog = backend.sql
    conn = backend.connect()
    try:
        backend.begin_redeploy(conn)
        views = _deploy_in_dependency_order(
            backend,
            conn,
            {n: split_statements(t) for n, t in catalog.views.items()},
            backend.discard_failed_view,
        )
        procedures = _deploy_in_dependency_order(
            backend,
            conn,
            {n: backend.procedure_ddl(p) for n, p in catalog.procedures.items()},
        )
        backend.commit(conn)
        return views, procedures
    except BaseException:
        backend.rollback(conn)
        raise
    finally:
        conn.close()


def _deploy_in_dependency_order(
    backend, conn, objects: dict[str, list[str]], discard=lambda conn, name: None
) -> list[str]:
    """Deploy objects, retrying those that failed while others still make progress."""
    remaining, done, last_error = dict(objects), [], None
    while remaining:
        progressed = False
        for name, statements in list(remaining.items()):
            try:
                for statement in statements:
                    backend.execute(conn, statement)
            except Exception as exc:  # a dependency may not exist yet: retry next round
                last_error = (name, exc)
                discard(conn, name)
                continue
            done.append(name)
            del remaining[name]
            progressed = True
        if not progressed:
            name, exc = last_error
            raise RuntimeError(f"cannot deploy {name}: {exc}") from exc
    return done
