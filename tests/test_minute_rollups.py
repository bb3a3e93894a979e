"""MODEL_METRICS_MINUTELY on SQLite: what SP_APPLY_OUTCOMES writes per batch, and the backfill of
migration 0010 (rolled back and applied again over stored outcomes), and what the dashboard's
minute view reads. The views that read it are checked against raw rows on every backend by
tests/test_contract.py.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from yoyo import get_backend, read_migrations

from app.db import deploy, store
from app.db.sqlfiles import MIGRATIONS_ROOT
from app.ids import new_decision_id
from tests.contract_support import bucket, floor_minute

MIGRATION = "0010_create_model_metrics_minutely"
MODELS = ("mr-model-a", "mr-model-b")


@pytest.fixture
def catalog(db):
    for model in MODELS:
        store.create_model(
            db, {"id": model, "endpoint": "http://x", "context_window": 1, "max_concurrency": 1}
        )
    store.create_agent(db, {"id": "mr-agent"})
    return db


def save(db, batch_id: str, rows: list[tuple[datetime, str, bool, float]]) -> None:
    """Decisions (decided_at, model) with their outcomes (success, latency), one batch."""
    decisions = [
        {"decision_id": new_decision_id(), "decided_at": at, "agent_id": "mr-agent", "model_id": m}
        for at, m, _, _ in rows
    ]
    store.save_routing_decisions(db, decisions)
    outcomes = [
        {"decision_id": d["decision_id"], "success": ok, "latency_ms": latency}
        for d, (_, _, ok, latency) in zip(decisions, rows, strict=True)
    ]
    assert store.save_metrics_batch(db, outcomes, batch_id)["applied"] == len(rows)


def minute_rows(db) -> dict[tuple[str, str, int], tuple[int, int, float]]:
    with sqlite3.connect(db.backend.path) as conn:
        rows = conn.execute(
            "SELECT MINUTE_START, MODEL_ID, BUCKET, SAMPLES, SUCCESSES, LATENCY_SUM_MS "
            "FROM MODEL_METRICS_MINUTELY"
        ).fetchall()
    return {(m, model, b): (n, ok, total) for m, model, b, n, ok, total in rows}


def expected_rows(rows: list[tuple[datetime, str, bool, float]]) -> dict:
    """The rollup computed here: per (minute of decision, model, bucket). The latencies used
    are exact in binary floating point, so their sums compare for equality."""
    out: dict[tuple[str, str, int], tuple[int, int, float]] = {}
    for at, model, ok, latency in rows:
        key = (floor_minute(at).strftime("%Y-%m-%d %H:%M:%S.%f"), model, bucket(latency))
        n, s, total = out.get(key, (0, 0, 0.0))
        out[key] = (n + 1, s + int(ok), total + latency)
    return out


def test_each_batch_adds_to_its_minute_rows(catalog):
    db = catalog
    minute = floor_minute(datetime.now(UTC)) - timedelta(minutes=3)
    first = [
        (minute + timedelta(seconds=1), MODELS[0], True, 100.0),
        (minute + timedelta(seconds=2), MODELS[0], False, 101.0),  # same bucket as 100 ms
        (minute + timedelta(seconds=59.999999), MODELS[0], True, 0.0),  # bucket -32768
        (minute + timedelta(minutes=1), MODELS[0], True, 100.0),  # the next minute
        (minute, MODELS[1], True, 5000.0),
    ]
    second = [  # the same keys again: the upsert adds to them
        (minute + timedelta(seconds=30), MODELS[0], True, 100.5),
        (minute + timedelta(seconds=31), MODELS[1], False, 5001.0),
    ]
    save(db, "mr-first", first)
    assert minute_rows(db) == expected_rows(first)
    save(db, "mr-second", second)
    got = minute_rows(db)
    assert got == expected_rows(first + second)
    key = (minute.strftime("%Y-%m-%d %H:%M:%S.%f"), MODELS[0], bucket(100.0))
    assert bucket(100.0) == bucket(101.0) == bucket(100.5) == 118  # (98.3, 102.3]
    assert got[key] == (3, 2, 301.5)
    assert (minute.strftime("%Y-%m-%d %H:%M:%S.%f"), MODELS[0], -32768) in got


def test_decisions_older_than_the_longest_window_add_no_minute_rows(catalog):
    """A late batch (a spool replayed after a long outage, an import of history) still counts in
    the hourly rollups, but its decisions older than 1440 whole minutes could never be read
    from the minute rollup, so they are not written there."""
    db = catalog
    now = floor_minute(datetime.now(UTC))
    old = [(now - timedelta(minutes=1441), MODELS[0], True, 100.0)]
    recent = [(now - timedelta(minutes=1439), MODELS[0], True, 100.0)]
    save(db, "mr-late", old + recent)
    assert minute_rows(db) == expected_rows(recent)
    with sqlite3.connect(db.backend.path) as conn:
        (hourly,) = conn.execute("SELECT SUM(REQUESTS) FROM MODEL_METRICS_HOURLY").fetchone()
    assert hourly == 2


def rollback_minute_migration(path: str) -> None:
    backend = get_backend(f"sqlite:///{path}")
    try:
        migrations = read_migrations(str(MIGRATIONS_ROOT / "sqlite"))
        with backend.lock():
            todo = backend.to_rollback(migrations).filter(lambda m: m.id == MIGRATION)
            assert [m.id for m in todo] == [MIGRATION]
            backend.rollback_migrations(todo)
    finally:
        backend.connection.close()


def test_the_migration_backfills_the_last_1440_minutes(catalog):
    db = catalog
    now = datetime.now(UTC)
    rows = [
        (now - timedelta(minutes=2), MODELS[0], True, 120.0),
        (now - timedelta(minutes=2), MODELS[0], False, 3000.0),
        (now - timedelta(minutes=10), MODELS[1], True, 0.0),
        (now - timedelta(hours=23, minutes=59), MODELS[1], False, 42.0),  # in the longest window
        (now - timedelta(hours=24, minutes=2), MODELS[0], True, 77.0),  # older: not backfilled
        (now - timedelta(days=3), MODELS[1], True, 88.0),
    ]
    save(db, "mr-before-upgrade", rows)
    maintained = minute_rows(db)
    assert maintained == expected_rows(rows[:4])  # SP_APPLY_OUTCOMES keeps the 1440 minutes too
    health = store.get_model_health(db)

    rollback_minute_migration(db.backend.path)
    with sqlite3.connect(db.backend.path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "MODEL_METRICS_MINUTELY" not in tables
    report = deploy.migrate(db.backend)  # the upgrade: 0010 applied again over stored outcomes
    assert report.applied == [MIGRATION]

    assert minute_rows(db) == maintained
    assert store.get_model_health(db) == health


def test_minute_view_reads_the_rollup_and_the_decision_index_only(db):
    """V_ROUTING_MINUTELY_1H, read every 5 s per open dashboard tab, reads no raw outcome, and
    counts the hour's decisions and cache hits from IX_DECISIONS_DECIDED_AT alone (its columns
    are (DECIDED_AT, CACHE_HIT) since migration 0011), never a table row per decision."""
    with sqlite3.connect(db.backend.path) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN SELECT * FROM V_ROUTING_MINUTELY_1H").fetchall()
    plan = [r[3] for r in rows]
    covering = "USING COVERING INDEX IX_DECISIONS_DECIDED_AT (DECIDED_AT>? AND DECIDED_AT<?)"
    assert any(covering in step for step in plan), plan  # one range per minute, no sort
    assert any("MODEL_METRICS_MINUTELY" in step for step in plan), plan
    assert not any("INFERENCE_METRICS" in step for step in plan), plan
