"""Connection pool benchmark: what a borrow costs, and how long acquire waits under contention.

Every request borrows a connection, so the pool's own overhead must stay far below a query's
(SQLAlchemy's QueuePool takes about 5.4 us per checkout and checkin). Under contention the
question is fairness: with 16 threads on 10 connections the slowest acquire shows whether a
thread can starve.

Runs on a temporary SQLite file with min=max=10 connections, each row for a fixed time, so the
whole run is bounded (about 6 rows x --seconds). `main()` prints a table and returns the figures.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from array import array
from pathlib import Path

import numpy as np

from app.db.pool import ConnectionPool

POOL_SIZE = 10
TARGET_CYCLE_US = 5.0  # single thread, acquire + release, median
TARGET_MAX_ACQUIRE_MS = 50.0  # 16 threads on 10 connections, slowest acquire
WORKLOADS = ("acquire+release", "acquire+SELECT 1+release")


def _run(pool: ConnectionPool, threads: int, seconds: float, query: bool) -> dict:
    """Let `threads` workers borrow in a loop for `seconds`; times in nanoseconds."""
    barrier = threading.Barrier(threads + 1)
    stop = threading.Event()
    acquires = [array("q") for _ in range(threads)]
    cycles = [array("q") for _ in range(threads)]

    def worker(acquired: array, cycle: array) -> None:
        acquire, release, clock, stopped = (
            pool.acquire,
            pool.release,
            time.perf_counter_ns,
            stop.is_set,
        )
        barrier.wait()
        while not stopped():
            start = clock()
            conn = acquire()
            got = clock()
            if query:
                conn.execute("SELECT 1").fetchone()
            release(conn)
            acquired.append(got - start)
            cycle.append(clock() - start)

    workers = [
        threading.Thread(target=worker, args=pair) for pair in zip(acquires, cycles, strict=True)
    ]
    for thread in workers:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in workers:
        thread.join()
    elapsed = time.perf_counter() - began
    acquire_ns = np.concatenate([np.frombuffer(a, dtype=np.int64) for a in acquires])
    cycle_ns = np.concatenate([np.frombuffer(c, dtype=np.int64) for c in cycles])
    return {
        "threads": threads,
        "ops": int(acquire_ns.size),
        "ops_per_s": acquire_ns.size / elapsed,
        "acquire_median_us": float(np.median(acquire_ns)) / 1e3,
        "acquire_p99_us": float(np.percentile(acquire_ns, 99)) / 1e3,
        "acquire_max_us": float(acquire_ns.max()) / 1e3,
        "cycle_median_us": float(np.median(cycle_ns)) / 1e3,
    }


def _targets(rows: list[dict]) -> dict:
    single = [r for r in rows if r["work"] == WORKLOADS[0] and r["threads"] == 1]
    crowded = [r for r in rows if r["threads"] == 16]
    targets = {}
    if single:
        value = single[0]["cycle_median_us"]
        targets["single_thread_cycle_median_us"] = {
            "value": value,
            "limit": TARGET_CYCLE_US,
            "ok": value <= TARGET_CYCLE_US,
        }
    if crowded:
        value = max(r["acquire_max_us"] for r in crowded) / 1e3
        targets["max_acquire_16_threads_ms"] = {
            "value": value,
            "limit": TARGET_MAX_ACQUIRE_MS,
            "ok": value < TARGET_MAX_ACQUIRE_MS,
        }
    return targets


def _print_table(rows: list[dict], targets: dict, seconds: float) -> None:
    print(f"pool bench: SQLite temp file, min=max={POOL_SIZE} connections, {seconds:g} s per row")
    print(
        f"{'work':<26}{'threads':>8}{'ops/s':>12}   acquire us: {'median':>8}{'p99':>9}"
        f"{'max':>11}   cycle median us"
    )
    for r in rows:
        print(
            f"{r['work']:<26}{r['threads']:>8}{r['ops_per_s']:>12,.0f}{'':>15}"
            f"{r['acquire_median_us']:>8.2f}{r['acquire_p99_us']:>9.2f}"
            f"{r['acquire_max_us']:>11.1f}{r['cycle_median_us']:>18.2f}"
        )
    labels = {
        "single_thread_cycle_median_us": ("1-thread acquire+release median", "us", "<="),
        "max_acquire_16_threads_ms": ("16 threads on 10 connections, slowest acquire", "ms", "<"),
    }
    for key, target in targets.items():
        label, unit, op = labels[key]
        verdict = "ok" if target["ok"] else "MISSED"
        print(
            f"target: {label} {op} {target['limit']:g} {unit}: "
            f"{target['value']:.2f} {unit} {verdict}"
        )


def main(argv: list[str] | None = None) -> dict:
    """Run every workload at every thread count; print the table and return the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.pool", description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="duration of each row")
    parser.add_argument("--threads", default="1,8,16", help="comma-separated thread counts")
    args = parser.parse_args(argv)
    thread_counts = [int(n) for n in args.threads.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(path, check_same_thread=False)

        for work in WORKLOADS:
            for threads in thread_counts:
                with ConnectionPool(
                    connect, min_size=POOL_SIZE, max_size=POOL_SIZE, name="bench"
                ) as pool:
                    rows.append(
                        {"work": work, **_run(pool, threads, args.seconds, query="SELECT" in work)}
                    )
    targets = _targets(rows)
    _print_table(rows, targets, args.seconds)
    return {
        "pool_size": POOL_SIZE,
        "seconds_per_row": args.seconds,
        "rows": rows,
        "targets": targets,
    }


if __name__ == "__main__":
    main()
