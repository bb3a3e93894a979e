"""`make bench`: run every benchmark in one process, print each table, save the figures.

Performance targets are checked here, never by timed assertions in tests. Figures go to
bench/results/latest.json so the closing notes and docs/PERFORMANCE_BENCHMARKS.md quote one run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

BENCHMARKS = (
    "pool",
    "route_decision",
    "assignment",
    "simulate",
    "analytics",
    "load",
    "slow_database",
    "abuse",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "names",
        nargs="*",
        default=list(BENCHMARKS),
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    args = parser.parse_args(argv)
    results: dict = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path("bench/results") / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(out.read_text()) if out.exists() else {}
    for name in args.names:
        print(f"\n=== bench/{name}.py ===", flush=True)
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        results[name] = module.main([])
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)
        # saved after each benchmark and merged: one failure or a single-benchmark run keeps
        # the figures of the others
        saved.update(results)
        out.write_text(json.dumps(saved, indent=2, default=str))
    print(f"\nfigures saved to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
