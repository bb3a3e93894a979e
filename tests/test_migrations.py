"""Migrations on SQLite: apply → rollback → apply; a second migrate redeploys sql/ objects."""

from __future__ import annotations

import sqlite3

from app.db import deploy
from app.db.sqlfiles import MIGRATIONS_ROOT, load_catalog
from app.db.sqlite import SqliteBackend


def schema(path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT type || ':' || name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '%yoyo%'"
        )
        return dict(rows.fetchall())


def test_every_migration_has_a_rollback():
    for dialect in ("sqlite", "hana"):
        forward = {
            p.name
            for p in (MIGRATIONS_ROOT / dialect).glob("*.sql")
            if not p.name.endswith(".rollback.sql")
        }
        assert forward, f"no migrations for {dialect}"
        for name in forward:
            assert (MIGRATIONS_ROOT / dialect / name.replace(".sql", ".rollback.sql")).exists()


def test_apply_rollback_apply(tmp_path):
    backend = SqliteBackend(tmp_path / "m.db")
    first = deploy.migrate(backend)
    assert first.applied
    built = schema(backend.path)
    assert any(k.startswith("table:") for k in built)
    assert set(load_catalog("sqlite").views) <= {k.split(":", 1)[1] for k in built}
    rolled = deploy.rollback_all(backend)
    assert sorted(rolled) == sorted(first.applied)
    assert schema(backend.path) == {}
    again = deploy.migrate(backend)
    assert sorted(again.applied) == sorted(first.applied)
    assert schema(backend.path) == built
    conn = backend.connect()
    try:
        assert deploy.pending_migrations(backend, conn) == []
    finally:
        conn.close()


def test_second_migrate_changes_no_table_and_redeploys_views(tmp_path):
    backend = SqliteBackend(tmp_path / "m.db")
    deploy.migrate(backend)
    tables_before = {k: v for k, v in schema(backend.path).items() if k.startswith("table:")}
    some_view = sorted(load_catalog("sqlite").views)[0]
    with sqlite3.connect(backend.path) as conn:
        conn.execute(f'DROP VIEW "{some_view}"')  # a DBA dropped it by hand
    report = deploy.migrate(backend)
    assert report.applied == []
    assert sorted(report.views) == sorted(load_catalog("sqlite").views)
    after = schema(backend.path)
    assert {k: v for k, v in after.items() if k.startswith("table:")} == tables_before
    assert f"view:{some_view}" in after
