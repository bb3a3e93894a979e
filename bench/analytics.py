"""Analytics and ingest benchmark on SQLite: the batch write path and the rollup readers.

Loads decisions with outcomes spread over the last 7 days for 50 models x 200 agents through the
real batch path (store.save_routing_decisions + store.save_metrics_batch, one transaction per
batch, so every batch runs SP_APPLY_OUTCOMES), then times each analytics operation (median of
several runs). Default 1,000,000 rows; `--big` loads 10,000,000 (long: minutes). Targets at 10M
are twice the 1M ones. The machine's load average is printed: the figures are wall-clock times.

`--background` adds the worker's timed reads at the target load: 900,000 more decisions with
outcomes decided in the last 15 minutes (1,000 outcomes/s), loaded in the writer's batches of
500, then V_MODEL_HEALTH and SP_EVALUATE_ALERTS (both run every 5 s) timed (about a minute more).

    python -m bench.analytics [--rows N | --big] [--batch N] [--runs N] [--keep DIR] [--background]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.config import load_config
from app.db import deploy, store
from app.db.database import Database
from app.ids import new_decision_id

MODELS, AGENTS = 50, 200
SPAN = timedelta(days=7)
DEFAULT_ROWS, BIG_ROWS = 1_000_000, 10_000_000
# Targets at 1M rows (the 10M ones are twice as loose for the reads).
TARGETS = {
    "batch_100_ms": 5.0,  # 100 decisions + 100 outcomes, one transaction, committed
    "ingest_outcomes_per_s": 50_000.0,  # insert-outcome + SP_APPLY_OUTCOMES + commit
    "routing_stats_24h_ms": 50.0,
    "model_performance_ms": 20.0,
    "top_pairs_ms": 50.0,
}
# The background step: 15 minutes at 1,000 outcomes/s; the targets hold at any history size.
BACKGROUND_ROWS = 900_000
BACKGROUND_TARGETS = {"background_health_ms": 50.0, "background_alerts_ms": 50.0}
READS: tuple[tuple[str, str, Callable], ...] = (
    (
        "routing_stats_24h_ms",
        "SP_GET_ROUTING_STATS(24)",
        lambda db: store.get_routing_stats(db, 24),
    ),
    ("analytics_24h_view_ms", "V_ROUTING_ANALYTICS_24H", store.get_routing_analytics_24h),
    (
        "model_performance_ms",
        "SP_GET_MODEL_PERFORMANCE(m, 24)",
        lambda db: store.get_model_performance(db, "bench-model-07", 24),
    ),
    (
        "top_pairs_ms",
        "SP_GET_TOP_AGENT_MODEL_PAIRS(10)",
        lambda db: store.get_top_agent_model_pairs(db, 10),
    ),
    (
        "top_pairs_1000_ms",
        "SP_GET_TOP_AGENT_MODEL_PAIRS(1000)",
        lambda db: store.get_top_agent_model_pairs(db, 1000),
    ),
    ("model_health_ms", "V_MODEL_HEALTH (15 min)", store.get_model_health),
    (
        "routing_stats_7d_ms",
        "SP_GET_ROUTING_STATS(168)",
        lambda db: store.get_routing_stats(db, 168),
    ),
    ("model_performance_7d_ms", "V_MODEL_PERFORMANCE (7 d)", store.list_model_performance),
    ("evaluate_alerts_ms", "SP_EVALUATE_ALERTS", store.evaluate_alerts),
)


def _database(directory: Path) -> Database:
    config = load_config(
        {
            "sqlite.path": str(directory / "bench.db"),
            "spool.path": str(directory / "spool.db"),
            "background.enabled": False,
            "pool.min_connections": 1,
            "pool.max_connections": 2,
            "catalog.bootstrap_file": "",
            "sqlite.statement_timeout_ms": 600_000,
        },
        env={},
    )
    db = Database.from_config(config)
    deploy.migrate(db.backend)
    db.start()
    return db


def _catalog(db: Database) -> dict[str, str]:
    for i in range(MODELS):
        store.create_model(
            db,
            {
                "id": f"bench-model-{i:02d}",
                "endpoint": f"http://bench/{i}",
                "context_window": 32768,
                "max_concurrency": 16,
                "capabilities": {"coding": (i % 10) / 10},
            },
        )
    for i in range(AGENTS):
        store.create_agent(db, {"id": f"bench-agent-{i:03d}", "requirements": {"coding": 1.0}})
    run = store.create_assignment_run(
        db,
        {"method": "hungarian"},
        [
            {"agent_id": f"bench-agent-{i:03d}", "model_id": f"bench-model-{i % MODELS:02d}"}
            for i in range(AGENTS)
        ],
    )
    return {a["agent_id"]: a["assignment_id"] for a in run["assignments"]}


def _batch(rng: random.Random, assignments: dict, times: list[datetime]) -> tuple[list, list]:
    decisions, outcomes = [], []
    for decided_at in times:
        agent = rng.randrange(AGENTS)
        model = agent % MODELS if rng.random() < 0.7 else rng.randrange(MODELS)
        agent_id, model_id = f"bench-agent-{agent:03d}", f"bench-model-{model:02d}"
        decision_id = new_decision_id()
        assigned = model == agent % MODELS
        decisions.append(
            {
                "decision_id": decision_id,
                "decided_at": decided_at,
                "agent_id": agent_id,
                "model_id": model_id,
                "task_type": "coding",
                "assignment_id": assignments[agent_id] if assigned else None,
                "strategy": "assigned" if assigned else "adaptive",
                "score": 0.8,
                "cache_hit": rng.random() < 0.6,
                "fallbacks": [{"model_id": "bench-model-00", "endpoint": "http://bench/0"}],
                "reason": "bench",
            }
        )
        outcomes.append(
            {
                "decision_id": decision_id,
                "success": rng.random() > 0.03 + model / 1000,
                "latency_ms": round(rng.lognormvariate(5.5 + model / 25, 0.6), 2),
                "tokens_in": rng.randrange(50, 3000),
                "tokens_out": rng.randrange(10, 1500),
                "recorded_at": decided_at + timedelta(milliseconds=300),
            }
        )
    return decisions, outcomes


def _load(
    db: Database, assignments: dict, rows: int, batch: int, seed: int, span: timedelta = SPAN
) -> dict:
    """Insert `rows` decisions with outcomes in time order, spread over the `span` that ends
    now; time only the database work."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - span
    step = span / rows
    total = outcome_time = 0.0
    for first in range(0, rows, batch):
        times = [start + step * k for k in range(first, min(first + batch, rows))]
        decisions, outcomes = _batch(rng, assignments, times)
        split = [0.0]

        def work(conn, decisions=decisions, outcomes=outcomes, split=split):
            store.save_routing_decisions(db, decisions, conn=conn)
            split[0] = time.perf_counter()
            store.save_metrics_batch(db, outcomes, conn=conn)

        began = time.perf_counter()
        db.run_in_transaction(work)
        ended = time.perf_counter()
        total += ended - began
        outcome_time += ended - split[0]  # insert-outcome + SP_APPLY_OUTCOMES + commit
    return {
        "rows": rows,
        "batch": batch,
        "seconds": total,
        "rows_per_s": rows / total,
        "ingest_outcomes_per_s": rows / outcome_time,
    }


def _batch_100(db: Database, assignments: dict, runs: int) -> dict:
    rng = random.Random(99)
    samples = []
    for _ in range(runs):
        decisions, outcomes = _batch(rng, assignments, [datetime.now(UTC)] * 100)

        def work(conn, decisions=decisions, outcomes=outcomes):
            store.save_routing_decisions(db, decisions, conn=conn)
            store.save_metrics_batch(db, outcomes, conn=conn)

        began = time.perf_counter()
        db.run_in_transaction(work)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    floor = []
    for _ in range(runs):  # what any commit costs here: one small row, synchronous=FULL fsync
        began = time.perf_counter()
        store.save_load_snapshots(
            db, [{"model_id": "bench-model-00", "in_flight": 1, "utilization": 0.1}]
        )
        floor.append((time.perf_counter() - began) * 1000)
    return {
        "commit_floor_ms": statistics.median(floor),
        "batch_100_ms": statistics.median(samples),
        "batch_100_p95_ms": samples[int(0.95 * len(samples)) - 1],
    }


def _background_reads(db: Database, assignments: dict, runs: int) -> dict:
    """The health refresh and the alert evaluation with 15 minutes of traffic at 1,000/s in
    their windows (they read the per-minute rollup, so the figures should not follow traffic)."""
    load = _load(db, assignments, BACKGROUND_ROWS, 500, seed=3, span=timedelta(minutes=15))
    return {
        "background_load_s": load["seconds"],
        "background_health_ms": _time(store.get_model_health, db, runs),
        "background_alerts_ms": _time(store.evaluate_alerts, db, runs),
    }


def _time(fn: Callable, db: Database, runs: int) -> float:
    fn(db)  # warm the page cache and the statement cache
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        fn(db)
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def _row(label: str, value: float, unit: str, target: float | None, higher_is_better=False) -> str:
    if target is None:
        verdict, shown = "", ""
    else:
        ok = value >= target if higher_is_better else value <= target
        verdict = "ok" if ok else "MISSED"
        shown = (
            f"{'>=' if higher_is_better else '<='} {target:,.0f}"
            if target >= 100
            else (f"{'>=' if higher_is_better else '<='} {target:g}")
        )
    return f"{label:<38} {value:>12,.1f} {unit:<8} {shown:>12}  {verdict}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.analytics", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--rows", type=int, default=None, help=f"rows to load (default {DEFAULT_ROWS:,})"
    )
    parser.add_argument(
        "--big", action="store_true", help=f"load {BIG_ROWS:,} rows (takes minutes)"
    )
    parser.add_argument("--batch", type=int, default=2000, help="rows per load transaction")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per read (median)")
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the database in this directory"
    )
    parser.add_argument(
        "--background",
        action="store_true",
        help=f"also time the background reads with {BACKGROUND_ROWS:,} outcomes in the last "
        "15 minutes (about a minute more)",
    )
    args = parser.parse_args(argv)
    rows = args.rows or (BIG_ROWS if args.big else DEFAULT_ROWS)
    scale = 2.0 if rows >= BIG_ROWS else 1.0
    targets = {
        k: (v if k.startswith(("ingest", "batch")) else v * scale) for k, v in TARGETS.items()
    }

    tmp = None
    if args.keep is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-analytics-")
        directory = Path(tmp.name)
    else:
        directory = args.keep
        directory.mkdir(parents=True, exist_ok=True)
    db = _database(directory)
    try:
        assignments = _catalog(db)
        print(
            f"loading {rows:,} decisions with outcomes over 7 days, "
            f"{MODELS} models x {AGENTS} agents ...",
            flush=True,
        )
        load = _load(db, assignments, rows, args.batch, seed=1)
        figures: dict = {"load": load, **_batch_100(db, assignments, max(args.runs * 5, 30))}
        figures["ingest_outcomes_per_s"] = load["ingest_outcomes_per_s"]
        for key, _, fn in READS:
            figures[key] = _time(fn, db, args.runs)
        # The group-commit writer's batches: 500 rows (writer.max_batch), all from the last minute;
        # then the live-window readers again, with those 50,000 outcomes in their windows.
        live = _load(db, assignments, 50_000, 500, seed=2, span=timedelta(minutes=1))
        figures["ingest_writer_batches_per_s"] = live["ingest_outcomes_per_s"]
        figures["model_health_busy_ms"] = _time(store.get_model_health, db, args.runs)
        figures["evaluate_alerts_busy_ms"] = _time(store.evaluate_alerts, db, args.runs)
        if args.background:
            print(f"loading {BACKGROUND_ROWS:,} outcomes into the last 15 minutes ...", flush=True)
            figures.update(_background_reads(db, assignments, args.runs))
            targets.update(BACKGROUND_TARGETS)
        figures["db_mb"] = os.path.getsize(directory / "bench.db") / 1e6
        figures["load_average"] = os.getloadavg()
    finally:
        db.close()
        if tmp is not None:
            tmp.cleanup()

    print(
        f"\nSQLite, {rows:,} rows; load average {figures['load_average'][0]:.1f} (wall-clock times)"
    )
    print(f"{'operation':<38} {'figure':>12} {'unit':<8} {'target':>12}")
    print(
        f"{'load: decisions+outcomes, batch ' + str(args.batch):<38} "
        f"{load['rows_per_s']:>12,.0f} rows/s"
    )
    print(
        _row(
            "ingest: outcomes through SP_APPLY",
            figures["ingest_outcomes_per_s"],
            "rows/s",
            targets["ingest_outcomes_per_s"],
            True,
        )
    )
    print(
        _row("  same, live batches of 500", figures["ingest_writer_batches_per_s"], "rows/s", None)
    )
    print(
        _row(
            "batch of 100 decisions+outcomes (med)",
            figures["batch_100_ms"],
            "ms",
            targets["batch_100_ms"],
        )
    )
    print(_row("batch of 100 decisions+outcomes (p95)", figures["batch_100_p95_ms"], "ms", None))
    print(_row("1-row transaction (commit floor)", figures["commit_floor_ms"], "ms", None))
    for key, label, _ in READS:
        print(_row(label, figures[key], "ms", targets.get(key)))
    busy = "with 50,000 outcomes in the last minute:"
    print(busy)
    print(_row("  V_MODEL_HEALTH", figures["model_health_busy_ms"], "ms", None))
    print(_row("  SP_EVALUATE_ALERTS", figures["evaluate_alerts_busy_ms"], "ms", None))
    if args.background:
        print(f"background reads at 1,000 outcomes/s ({BACKGROUND_ROWS:,} in the last 15 min):")
        for key, label in (
            ("background_health_ms", "  V_MODEL_HEALTH (every 5 s)"),
            ("background_alerts_ms", "  SP_EVALUATE_ALERTS (every 5 s)"),
        ):
            print(_row(label, figures[key], "ms", targets[key]))
    print(f"{'database size':<38} {figures['db_mb']:>12,.0f} MB")
    figures["targets"] = targets
    figures["met"] = {
        key: (figures[key] >= target if key.startswith("ingest") else figures[key] <= target)
        for key, target in targets.items()
    }
    return figures


if __name__ == "__main__":
    main()
