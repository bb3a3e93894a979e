"""Readiness is read-only: GET /readyz issues SELECTs only, whatever the database user may do.

HANA's least-privileged service user cannot create tables (HANA_NOTES), and yoyo's
init_database() creates its lock table and probes transactional DDL with a CREATE TABLE; a
probe doing either answered 503 forever as that user. The HANA path shares this code, so a
statement trace on SQLite checks both: every statement any connection runs during the probe.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from app import create_app

READ_ONLY = ("SELECT", "PRAGMA", "WITH")


@pytest.fixture
def traced(monkeypatch):
    """Every statement of every SQLite connection opened from now on (ours and yoyo's)."""
    statements: list[str] = []
    lock = threading.Lock()
    connect = sqlite3.connect

    def record(sql: str) -> None:
        with lock:
            statements.append(sql)

    def traced_connect(*args, **kwargs):
        conn = connect(*args, **kwargs)
        conn.set_trace_callback(record)
        return conn

    monkeypatch.setattr(sqlite3, "connect", traced_connect)
    return statements


def test_readyz_runs_only_selects(migrated, overrides, traced):
    app = create_app(overrides)
    try:
        client = app.test_client()
        app.extensions["services"].readiness.ttl_s = 0  # start-up primed the check: run it again
        traced.clear()  # start-up may write (bootstrap, spool); the probe must not
        response = client.get("/readyz")
        assert response.status_code == 200, response.get_json()
        probe = list(traced)
    finally:
        app.extensions["services"].stop()
    assert any("_yoyo_migration" in s for s in probe), probe  # the migrations were checked
    writes = [s for s in probe if not s.lstrip().upper().startswith(READ_ONLY)]
    assert writes == []
    assert not any("yoyo_tmp" in s or "yoyo_lock" in s for s in probe)


def test_readyz_on_a_database_never_migrated_is_503_without_creating_anything(
    overrides, traced, tmp_path
):
    app = create_app(overrides)
    try:
        app.extensions["services"].readiness.ttl_s = 0
        traced.clear()
        response = app.test_client().get("/readyz")
        probe = list(traced)
    finally:
        app.extensions["services"].stop()
    assert response.status_code == 503
    assert response.get_json()["migrations"].startswith("pending: 0001_create_catalog")
    assert [s for s in probe if not s.lstrip().upper().startswith(READ_ONLY)] == []
    with sqlite3.connect(overrides["sqlite.path"]) as conn:
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []
