"""Abuse benchmark: /healthz and route latency while slow uploaders and idle connections are open.

The server is `model-router serve` with the default settings (tests/server_process.py). An
attacker process (`python -m bench.abuse attack`, asyncio, standard library only) holds:

- `--slow` slow uploaders: `POST /login` with no key, `Content-Type:
  application/x-www-form-urlencoded`, `Content-Length: 200`, then one body byte every 2 s (issue
  14 #1). The server answers each with 408 after server.body_timeout_s; the uploader reconnects
  and starts again, so that many are always trickling.
- `--idle` idle kept-alive connections: one `GET /healthz` each, then silence (issue 14 #2). The
  server closes each after server.timeout_s; the attacker reconnects at once, as an attacker
  would, so that many are always open.

Both kinds are first opened spread over SPREAD_S (longer than either timeout), so that the
steady state is a constant churn (about 400 reconnects and `GET /healthz` a second from the idle
ones) rather than 2,000 reconnecting in the same millisecond every 5 s, which measures a burst of
2,000 requests, not idleness. Once the attacker reports them open, this process probes for
`--duration` seconds, every
20 ms: `GET /healthz` on a new connection and `POST /api/v1/route` on a kept-alive one, each
timed from connect (healthz) or send (route) to the whole answer. Target (issue 14, 2 cores,
default settings): both within 100 ms with 200 slow uploaders and 2,000 idle connections open.
The attacker reports how many of each were open at the end, and the 408s it got.

    python -m bench.abuse [--slow 200] [--idle 2000] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.loadgen import percentiles

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 100.0
SLOW_HEAD = (
    b"POST /login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 200\r\n\r\n"
)
IDLE_REQUEST = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
SPREAD_S = 12.0  # > server.body_timeout_s (10) and server.timeout_s (5) by default


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the attacker ---------------------------------------------------------------------------------


class Attack:
    def __init__(self, port: int) -> None:
        self.port = port
        self.open = {"slow": 0, "idle": 0}
        self.answers_408 = 0
        self.errors = 0

    async def keep(self, kind: str, hold, stop: asyncio.Event, offset: float) -> None:
        """Open a connection and count it as `kind` while `hold` uses it; again until stopped."""
        await asyncio.sleep(offset)
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.errors += 1
                await asyncio.sleep(0.1)
                continue
            self.open[kind] += 1
            try:
                await hold(reader, writer, stop)
            except OSError:
                self.errors += 1
            finally:
                self.open[kind] -= 1
                writer.close()

    async def trickle(self, reader, writer, stop: asyncio.Event) -> None:
        """A body byte every 2 s until the server answers (408) or we stop."""
        writer.write(SLOW_HEAD)
        answer = asyncio.ensure_future(reader.read(4096))
        while not stop.is_set() and not answer.done():
            writer.write(b"a")
            await asyncio.wait([answer], timeout=2.0)
        if answer.done() and answer.result().startswith(b"HTTP/1.1 408"):
            self.answers_408 += 1
        answer.cancel()

    async def linger(self, reader, writer, stop: asyncio.Event) -> None:
        """One request, then silence until the server closes the connection or we stop."""
        writer.write(IDLE_REQUEST)
        await reader.read(4096)  # the answer
        closed = asyncio.ensure_future(reader.read(1))
        while not stop.is_set() and not closed.done():
            await asyncio.wait([closed], timeout=0.5)
        closed.cancel()


async def attack(port: int, slow: int, idle: int, duration: float) -> dict:
    state, stop = Attack(port), asyncio.Event()
    tasks = [
        asyncio.ensure_future(state.keep("slow", state.trickle, stop, SPREAD_S * n / slow))
        for n in range(slow)
    ]
    tasks += [
        asyncio.ensure_future(state.keep("idle", state.linger, stop, SPREAD_S * n / idle))
        for n in range(idle)
    ]
    await asyncio.sleep(SPREAD_S + 1.0)
    print(json.dumps({"ready": dict(state.open)}), flush=True)
    lowest = dict(state.open)
    end = time.monotonic() + duration
    while time.monotonic() < end:  # the fewest open at any moment of the probing
        await asyncio.sleep(0.1)
        lowest = {kind: min(lowest[kind], state.open[kind]) for kind in lowest}
    stop.set()
    await asyncio.wait(tasks, timeout=5)
    return {"fewest_open": lowest, "answers_408": state.answers_408, "errors": state.errors}


# -- the probes -----------------------------------------------------------------------------------


def probe(port: int, key: str, duration: float) -> dict:
    import http.client

    healthz, route, failures = [], [], 0
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"agent_id": "chat-assistant"})
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    end = time.monotonic() + duration
    while time.monotonic() < end:
        try:
            started = time.perf_counter()
            fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            fresh.request("GET", "/healthz")
            ok = fresh.getresponse().read() and True
            healthz.append(time.perf_counter() - started)
            fresh.close()
            started = time.perf_counter()
            kept.request("POST", "/api/v1/route", body=body, headers=headers)
            answer = kept.getresponse()
            answer.read()
            route.append(time.perf_counter() - started)
            failures += int(not ok or answer.status != 200)
        except (OSError, http.client.HTTPException):
            failures += 1
            kept.close()
            kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        time.sleep(0.02)
    kept.close()
    return {"healthz": percentiles(healthz), "route": percentiles(route), "failures": failures}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.abuse")
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    _raise_fd_limit()
    sys.path.insert(0, str(ROOT / "tests"))
    import server_process as helpers

    folder = Path(tempfile.mkdtemp(prefix="bench-abuse-"))
    seeded = helpers.seed(folder)
    with helpers.ServerProcess(seeded) as server:
        (worker,) = server.workers()
        quiet = probe(server.port, seeded.keys["router"], 2.0)
        attacker = subprocess.Popen(
            [sys.executable, "-m", "bench.abuse", "attack", "--port", str(server.port),
             "--slow", str(args.slow), "--idle", str(args.idle), "--duration",
             str(args.duration)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        ready = json.loads(attacker.stdout.readline())["ready"]
        rss_kib = _rss_kib(worker)
        loaded = probe(server.port, seeded.keys["router"], args.duration)
        attacked = json.loads(attacker.stdout.read())
        attacker.wait(30)
    shutil.rmtree(folder, ignore_errors=True)
    result = {
        "slow": args.slow,
        "idle": args.idle,
        "ready": ready,
        "quiet": quiet,
        "under_attack": loaded,
        "attacker": attacked,
        "worker_rss_mib": round(rss_kib / 1024, 1),
    }
    _print(result)
    return result


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _print(r: dict) -> None:
    print(f"attacker: {r['ready']['slow']} slow uploaders and {r['ready']['idle']} idle "
          f"connections open (asked {r['slow']}, {r['idle']}); fewest while probing "
          f"{r['attacker']['fewest_open']}, {r['attacker']['answers_408']} answered 408, "
          f"{r['attacker']['errors']} connection errors; "
          f"worker RSS {r['worker_rss_mib']} MiB")  # fmt: skip
    print("               |  n    p50     p99     max  (ms)")
    for name in ("quiet", "under_attack"):
        for probe_name in ("healthz", "route"):
            p = {k: "-" if v is None else v for k, v in r[name][probe_name].items()}
            print(f"{name:>12} {probe_name:7} | {p['n']:4} {p['p50']:6} {p['p99']:7} {p['max']:7}")
    worst = max(r["under_attack"][p]["max"] or 1e9 for p in ("healthz", "route"))
    met = worst <= TARGET_MS and not r["under_attack"]["failures"]
    print(f"target (healthz and route within {TARGET_MS:g} ms under attack, no failure): "
          f"{'met' if met else 'MISSED'} (worst {worst} ms, "
          f"{r['under_attack']['failures']} failures)")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["attack"]:
        parser = argparse.ArgumentParser(prog="python -m bench.abuse attack")
        parser.add_argument("attack")
        for name in ("--port", "--slow", "--idle"):
            parser.add_argument(name, type=int, required=True)
        parser.add_argument("--duration", type=float, required=True)
        args = parser.parse_args()
        _raise_fd_limit()
        print(json.dumps(asyncio.run(attack(args.port, args.slow, args.idle, args.duration))))
    else:
        main()
