"""Load benchmark: route+outcome pairs per second through the real server, open loop.

The server is `model-router serve` with the production options of app/server.py (granian, one
worker process, 16 WSGI threads per core, the default writer and pool settings, background loops
on)
on a migrated SQLite database with a seeded catalog, started by tests/server_process.py. The load
comes from bench/loadgen.py in a separate process (asyncio, HTTP/1.1 keep-alive), one run per
rate: pairs are due at fixed intervals whether or not the server keeps up, and the route latency
counts from the due time, so a server that falls behind shows it in its percentiles.

Per rate: achieved pairs/s, p50/p95/p99/max per endpoint, statuses, client errors, and the CPU
the server's worker and the load generator used (two cores in all), with the worker's CPU time
per pair: one worker process runs its Python on one core at a time (the GIL), so that figure
sets the ceiling (1 s / CPU per pair) whatever the thread count. At the end the database must
hold exactly the acknowledged decisions and outcomes.

Target (DESIGN §7, on a 2-core machine): >= 1,000 pairs/s with p99 <= 20 ms on both endpoints and
nothing lost. `main()` prints the table with the targets beside the figures and returns them;
bounded at about 60 s with the defaults.

    python -m bench.load [--rates 250,500,1000,1500] [--duration 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_PAIRS_PER_S = 1000.0
TARGET_P99_MS = 20.0
RATES = (250, 500, 1000, 1500)
WARMUP = (100.0, 2.0)  # pairs/s, seconds: fills caches and the key cache, not reported


def _server_helpers():
    """tests/server_process.py: the same server start-up as the durability tests."""
    sys.path.insert(0, str(ROOT / "tests"))
    import server_process

    return server_process


def loadgen_argv(port: int, key: str, rate: float, duration: float, out: Path) -> list[str]:
    """The open-loop load generator process for one rate (bench/loadgen.py)."""
    return [sys.executable, "-m", "bench.loadgen", "rate", "--port", str(port), "--key", key,
            "--rate", str(rate), "--duration", str(duration), "--connections", "256",
            "--timeout", "30", "--out", str(out)]  # fmt: skip


def run_loadgen(port: int, key: str, rate: float, duration: float, out: Path) -> dict:
    argv = loadgen_argv(port, key, rate, duration, out)
    subprocess.run(argv, cwd=ROOT, check=True, timeout=duration + 60)
    return json.loads(out.read_text())


def step_figures(report: dict, server_cpu_s: float) -> dict:
    elapsed = report["elapsed_s"]
    route, outcome = report["route"], report["outcome"]
    return {
        "rate": report["rate"],
        "pairs_per_s": round(outcome["statuses"].get("201", 0) / elapsed, 1),
        "route": {"statuses": route["statuses"], **route["latency_ms"]},
        "outcome": {"statuses": outcome["statuses"], **outcome["latency_ms"]},
        "errors": report["errors"],
        "server_cpu_pct": round(100 * server_cpu_s / elapsed, 1),
        "server_cpu_us_per_pair": round(1e6 * server_cpu_s / max(1, report["pairs"]), 0),
        "client_cpu_pct": round(100 * report["client_cpu_s"] / elapsed, 1),
    }


def meets_target(step: dict) -> bool:
    return (
        step["pairs_per_s"] >= 0.98 * step["rate"]
        and not step["errors"]
        and step["route"]["p99"] is not None
        and step["route"]["p99"] <= TARGET_P99_MS
        and step["outcome"]["p99"] is not None
        and step["outcome"]["p99"] <= TARGET_P99_MS
    )


def print_table(steps: list[dict]) -> None:
    print(f"target: >= {TARGET_PAIRS_PER_S:.0f} pairs/s, p99 <= {TARGET_P99_MS:g} ms per endpoint")
    print(
        f"{'rate':>6} {'pairs/s':>8} | {'route p50':>9} {'p95':>7} {'p99':>7} {'max':>7} | "
        f"{'outcome p50':>11} {'p95':>7} {'p99':>7} {'max':>7} | {'srv cpu':>7} {'us/pair':>7} "
        f"{'cli cpu':>7}"
        f" {'non-2xx/err':>11}  target"
    )
    for s in steps:
        r, o = s["route"], s["outcome"]
        bad = sum(v for k, v in r["statuses"].items() if k != "200")
        bad += sum(v for k, v in o["statuses"].items() if k != "201")
        bad += sum(s["errors"].values())
        verdict = "met" if meets_target(s) else "MISSED"
        print(
            f"{s['rate']:>6.0f} {s['pairs_per_s']:>8.1f} | {r['p50']:>9.2f} {r['p95']:>7.2f} "
            f"{r['p99']:>7.2f} {r['max']:>7.1f} | {o['p50']:>11.2f} {o['p95']:>7.2f} "
            f"{o['p99']:>7.2f} {o['max']:>7.1f} | {s['server_cpu_pct']:>6.0f}% "
            f"{s['server_cpu_us_per_pair']:>7.0f} "
            f"{s['client_cpu_pct']:>6.0f}% {bad:>11}  {verdict}"
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rates", default=",".join(str(r) for r in RATES), help="pairs per second, one run each"
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per rate")
    parser.add_argument(
        "--keep",
        default=None,
        help="folder for the database and logs, kept (default: a temporary one)",
    )
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    helpers = _server_helpers()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-load-"))
    seeded = helpers.seed(folder)
    key = seeded.keys["router"]
    acked_decisions: set[str] = set()
    acked_outcomes: set[str] = set()
    steps = []
    with helpers.ServerProcess(seeded) as server:
        (worker,) = server.workers()
        for rate, duration in [WARMUP, *((r, args.duration) for r in rates)]:
            before = helpers.cpu_seconds(worker)
            report = run_loadgen(server.port, key, rate, duration, folder / f"rate-{rate:g}.json")
            used = helpers.cpu_seconds(worker) - before
            acked_decisions.update(report["acked_decisions"])
            acked_outcomes.update(report["acked_outcomes"])
            if (rate, duration) != WARMUP:
                steps.append(step_figures(report, used))
            time.sleep(0.5)  # let the backlog of one rate clear before the next
        writer = server.writer_figures()
        code = server.stop()
    decisions, outcomes = helpers.stored_ids(seeded.db_path)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    lost = len(acked_decisions - decisions) + len(acked_outcomes - outcomes)
    unacknowledged = len(decisions - acked_decisions) + len(outcomes - acked_outcomes)
    print_table(steps)
    load_1m, load_5m, _ = os.getloadavg()
    print(f"machine load average (other processes included): {load_1m:.1f} (1 min), "
          f"{load_5m:.1f} (5 min) on {os.cpu_count()} cores")  # fmt: skip
    best = max((s for s in steps if meets_target(s)), key=lambda s: s["rate"], default=None)
    target_met = best is not None and best["rate"] >= TARGET_PAIRS_PER_S and lost == 0
    print(
        f"stored: {len(decisions)} decisions, {len(outcomes)} outcomes; acknowledged: "
        f"{len(acked_decisions)}, {len(acked_outcomes)}; lost {lost} (target 0), stored but "
        f"never acknowledged {unacknowledged}; server exit code {code}"
    )
    print(
        f"writer: {writer['batches']} commits, {writer['batch_size_avg']:.1f} rows per commit, "
        f"commit latency avg {writer['commit_latency_ms']['avg']:.2f} ms, "
        f"p99 {writer['commit_latency_ms']['p99']:.2f} ms"
    )
    print(
        f"highest rate meeting the target: {best['rate']:.0f} pairs/s"
        if best
        else "no rate met the target"
    )
    print(f"target ({TARGET_PAIRS_PER_S:.0f} pairs/s, p99 <= {TARGET_P99_MS:g} ms, nothing lost): "
          f"{'met' if target_met else 'MISSED'}")  # fmt: skip
    return {
        "target": {"pairs_per_s": TARGET_PAIRS_PER_S, "p99_ms": TARGET_P99_MS},
        "steps": steps,
        "stored": {"decisions": len(decisions), "outcomes": len(outcomes)},
        "acknowledged": {"decisions": len(acked_decisions), "outcomes": len(acked_outcomes)},
        "lost": lost,
        "stored_unacknowledged": unacknowledged,
        "writer": {k: writer[k] for k in ("batches", "batch_size_avg", "commit_latency_ms")},
        "best_rate_meeting_target": best["rate"] if best else None,
        "target_met": target_met,
        "server_exit_code": code,
        "load_average_1m": round(load_1m, 2),
        "folder": args.keep,
    }


if __name__ == "__main__":
    main()
