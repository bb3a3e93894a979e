"""Slow-database benchmark (issue 13): routing under a lock held by another process, and HANA deaf.

The operator's scenario, reproduced truthfully: the real server (`serve`, granian, defaults, as
in bench/load.py) on a migrated SQLite file, open-loop route+outcome load from bench/loadgen.py
in its own process, and a second process (tests/server_process.LockHolder) holding
`BEGIN EXCLUSIVE` on the live file for --lock seconds. In WAL mode that lock blocks writers only:
the writer's commits wait, readers go on. Three phases at one rate: before the lock, during it
(the load generator's pairs all fall inside the lock), after it (load continues while the spool
drains). Per phase: pairs/s, route and outcome p50/p99/max, statuses; during the lock the route
availability (200 among all route attempts) and its throughput against before; after release
the time until the writer is back on the database with an empty spool; at the end the database
must hold every acknowledged decision and outcome exactly once (primary keys) and the rollups
must have applied each outcome once.

HANA, as far as it goes without a server: hdbcli through a TcpProxy in front of a loopback port
that accepts and never answers (a deaf database). The writer's acknowledgements (from the spool)
and a request-path read are timed from 8 threads; a full HANA session behind the proxy could
not be run.

Targets: availability >= 99.5 %, route and outcome p99 <= 50 ms during the lock, throughput
during >= 90 % of before, 0 lost, stored exactly once, spool drained <= 10 s after release.

    python -m bench.slow_database [--rate 320] [--before 10] [--lock 30] [--after 15]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.load import ROOT, WARMUP, _server_helpers, loadgen_argv, step_figures
from bench.loadgen import percentiles

TARGETS = {"availability_pct": 99.5, "p99_ms": 50.0, "throughput_ratio": 0.9, "drain_s": 10.0}


def _phase(helpers, server, key, rate, duration, out: Path, during=None) -> dict:
    """One load generator run; `during(elapsed_s)` is polled every 0.1 s while it runs."""
    (worker,) = server.workers()
    before = helpers.cpu_seconds(worker)
    proc = subprocess.Popen(loadgen_argv(server.port, key, rate, duration, out), cwd=ROOT)
    started = time.monotonic()
    while proc.poll() is None:
        if during is not None:
            during(time.monotonic() - started)
        time.sleep(0.1)
    if proc.returncode:
        raise RuntimeError(f"load generator exited with {proc.returncode}")
    report = json.loads(out.read_text())
    figures = step_figures(report, helpers.cpu_seconds(worker) - before)
    route = report["route"]["statuses"]
    attempts = sum(route.values()) + sum(
        n for kind, n in report["errors"].items() if kind.startswith("route")
    )
    figures["availability_pct"] = round(100.0 * route.get("200", 0) / max(1, attempts), 3)
    figures["acked"] = (report["acked_decisions"], report["acked_outcomes"])
    return figures


def _readiness(server) -> dict:
    status, body = server.ready(timeout=5.0)
    return {"status": status, **{k: body.get(k) for k in ("writer", "writer_reason",
            "writer_since", "status_detail", "spool_depth")}}  # fmt: skip


def sqlite_lock(rate: float, before_s: float, lock_s: float, after_s: float) -> dict:
    helpers = _server_helpers()
    folder = Path(tempfile.mkdtemp(prefix="bench-slowdb-"))
    seeded = helpers.seed(folder)
    key = seeded.keys["router"]
    phases, seen = {}, {}
    try:
        with helpers.ServerProcess(seeded) as server:
            warmup = _phase(helpers, server, key, *WARMUP, folder / "warmup.json")
            phases["before"] = _phase(helpers, server, key, rate, before_s, folder / "before.json")

            def look(elapsed: float) -> None:
                if elapsed > lock_s / 2 and "readiness" not in seen:
                    seen["readiness"] = _readiness(server)

            with helpers.LockHolder(seeded.db_path):
                phases["during"] = _phase(
                    helpers, server, key, rate, lock_s, folder / "during.json", look
                )
                seen["writer_at_release"] = server.writer_figures()
            released = time.monotonic()

            def drained(elapsed: float) -> None:
                if "drain_s" not in seen:
                    figures = server.writer_figures()
                    if figures["mode"] == "database" and figures["spool_depth"] == 0:
                        seen["drain_s"] = round(time.monotonic() - released, 2)

            phases["after"] = _phase(
                helpers, server, key, rate, after_s, folder / "after.json", drained
            )
            seen["writer_end"] = server.writer_figures()
            seen["exit_code"] = server.stop()
        decisions, outcomes = helpers.stored_ids(seeded.db_path)
        applied = helpers.applied_counts(seeded.db_path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    acked_d = {d for p in (warmup, *phases.values()) for d in p["acked"][0]}
    acked_o = {d for p in (warmup, *phases.values()) for d in p["acked"][1]}
    for p in phases.values():
        del p["acked"]
    return {
        "rate": rate,
        "lock_s": lock_s,
        "phases": phases,
        "throughput_ratio": round(
            phases["during"]["pairs_per_s"] / max(1e-9, phases["before"]["pairs_per_s"]), 3
        ),
        "readiness_during_lock": seen.get("readiness"),
        "drain_s": seen.get("drain_s"),
        "lost": len(acked_d - decisions) + len(acked_o - outcomes),
        "stored_unacknowledged": len(decisions - acked_d) + len(outcomes - acked_o),
        "applied_once": applied["batched"] == applied["rolled_up"] == applied["outcomes"]
        and applied["orphans"] == 0,
        "stored": {"decisions": len(decisions), "outcomes": len(outcomes)},
        "writer": {
            k: seen["writer_end"][k]
            for k in (
                "deadline_diversions",
                "deadline_diverted_rows",
                "commits_abandoned",
                "spooled_rows",
                "replayed_rows",
                "replay_skipped_rows",
            )
        },  # fmt: skip
        "server_exit_code": seen["exit_code"],
    }


def hana_deaf(threads: int = 8, writes: int = 50) -> dict:
    """Writer and a request-path read over hdbcli through a proxy to a port that never answers."""
    from app.config import Secret
    from app.db import store
    from app.db.database import Database, PoolSettings
    from app.db.hana import HanaBackend
    from app.db.spool import Spool
    from app.db.store.decisions import decision_row
    from app.db.writer import Writer
    from app.ids import new_decision_id

    helpers = _server_helpers()
    folder = Path(tempfile.mkdtemp(prefix="bench-deaf-"))
    acks, reads, where = [], [], set()
    lock = threading.Lock()
    with socket.socket() as deaf:
        deaf.bind(("127.0.0.1", 0))
        deaf.listen(64)
        proxy = helpers.TcpProxy(deaf.getsockname()[1]).start()
        hana = HanaBackend(host="127.0.0.1", port=proxy.port, user="APP", password=Secret("x"),
                           encrypt=False, connect_timeout_ms=5000,
                           communication_timeout_ms=5000)  # fmt: skip
        db = Database(hana, pool=PoolSettings(min_size=0, max_size=4), request_deadline_s=0.2)
        db.start()
        writer = Writer(db, Spool(folder / "spool.db"), commit_deadline_ms=200).start()

        def client(i: int) -> None:
            for _ in range(writes):
                row = decision_row({"decision_id": new_decision_id(), "agent_id": "a",
                                    "decided_at": "2030-01-01 00:00:00.000000", "model_id": "m",
                                    "assignment_id": None, "strategy": "assigned", "score": 1.0,
                                    "fallbacks": [], "reason": "bench"})  # fmt: skip
                started = time.perf_counter()
                landed = writer.write([row], [])
                took = time.perf_counter() - started
                started = time.perf_counter()
                try:
                    db.bounded(store.get_decision, db, row["decision_id"])
                except Exception:  # DeadlineExceeded or DatabaseUnavailable: both a fast 503
                    pass
                with lock:
                    acks.append(took)
                    reads.append(time.perf_counter() - started)
                    where.add(landed)

        workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join(120)
        figures = writer.stats()
        writer.stop(timeout=2.0)
        db.close()
        proxy.stop()
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "writes": len(acks),
        "acknowledged_by": sorted(where),
        "ack_ms": percentiles(acks),
        "read_ms": percentiles(reads),
        "mode": figures["mode"],
        "mode_reason": figures["mode_reason"],
        "proxy_connections": proxy.connections,
    }


def verdicts(lock: dict) -> dict[str, bool]:
    during = lock["phases"]["during"]
    return {
        "availability": during["availability_pct"] >= TARGETS["availability_pct"],
        "route_p99": (during["route"]["p99"] or 1e9) <= TARGETS["p99_ms"],
        "outcome_p99": (during["outcome"]["p99"] or 1e9) <= TARGETS["p99_ms"],
        "throughput": lock["throughput_ratio"] >= TARGETS["throughput_ratio"],
        "lost": lock["lost"] == 0,
        "exactly_once": lock["applied_once"],
        "drain": lock["drain_s"] is not None and lock["drain_s"] <= TARGETS["drain_s"],
    }


def print_report(lock: dict, deaf: dict, met: dict[str, bool]) -> None:
    print(f"SQLite: BEGIN EXCLUSIVE held {lock['lock_s']:g} s by another process, "
          f"{lock['rate']:g} pairs/s offered")  # fmt: skip
    print(f"{'phase':>7} {'pairs/s':>8} {'avail %':>8} | {'route p50':>9} {'p99':>7} "
          f"{'max':>8} | {'outcome p50':>11} {'p99':>7} {'max':>8} | statuses")  # fmt: skip
    for name, p in lock["phases"].items():
        r, o = p["route"], p["outcome"]
        print(f"{name:>7} {p['pairs_per_s']:>8.1f} {p['availability_pct']:>8.3f} | "
              f"{r['p50']:>9.2f} {r['p99']:>7.2f} {r['max']:>8.1f} | {o['p50']:>11.2f} "
              f"{o['p99']:>7.2f} {o['max']:>8.1f} | route {r['statuses']} outcome "
              f"{o['statuses']} errors {p['errors']}")  # fmt: skip
    print(f"throughput during / before: {lock['throughput_ratio']:.3f}; spool drained "
          f"{lock['drain_s']} s after release; lost {lock['lost']}; stored exactly once: "
          f"{lock['applied_once']} ({lock['stored']['decisions']} decisions, "
          f"{lock['stored']['outcomes']} outcomes); writer {lock['writer']}")  # fmt: skip
    print(f"readiness during the lock: {lock['readiness_during_lock']}")
    print(f"HANA deaf (hdbcli via proxy to a silent port): {deaf['writes']} writes acknowledged "
          f"by {deaf['acknowledged_by']}, ack p50/p99/max {deaf['ack_ms']['p50']} / "
          f"{deaf['ack_ms']['p99']} / {deaf['ack_ms']['max']} ms; request-path read p99 "
          f"{deaf['read_ms']['p99']} ms, max {deaf['read_ms']['max']} ms; writer "
          f"{deaf['mode']} ({deaf['mode_reason']})")  # fmt: skip
    for name, ok in met.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.slow_database",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=320.0, help="pairs per second")
    parser.add_argument("--before", type=float, default=10.0, help="seconds before the lock")
    parser.add_argument("--lock", type=float, default=30.0, help="seconds the lock is held")
    parser.add_argument("--after", type=float, default=15.0, help="seconds of load after it")
    args = parser.parse_args(argv)
    lock = sqlite_lock(args.rate, args.before, args.lock, args.after)
    deaf = hana_deaf()
    met = verdicts(lock)
    print_report(lock, deaf, met)
    return {"targets": TARGETS, "sqlite_lock": lock, "hana_deaf": deaf, "met": met}


if __name__ == "__main__":
    main()
