"""Asyncio HTTP/1.1 load generator: route + outcome pairs against a running router.

It runs as a process of its own, so that the server under test keeps its interpreter (and GIL)
to itself, and speaks raw HTTP/1.1 over keep-alive connections (standard library only):

    python -m bench.loadgen rate  --port P --key K --rate 1000 --duration 8 --out step.json
    python -m bench.loadgen burst --port P --key K --pairs 10000 --out burst.json

A pair is POST /api/v1/route, then, when that is answered 200, POST /api/v1/decisions/{id}/outcome
on the same connection.

- rate: open loop. Pair i is due at start + i/rate whether or not earlier pairs are done, so a
  slow server cannot slow the offered load down (no coordinated omission): the route latency is
  measured from the pair's due time, and includes any wait for a free connection. Connections
  are reused; at most --connections are open.
- burst: every pair is started at once (--pairs requests in flight together) over at most
  --connections connections, to overload the server's threads and writer queue. Keep the
  connections within what the server can hold (server.max_connections, 10000 within the
  descriptor limit, plus its listen backlog): beyond that the kernel drops or resets connections
  before the server sees them.

Every request has a deadline (--timeout). The JSON written to --out holds the status counts and
latency percentiles per endpoint, errors by kind, 503s that lacked Retry-After, and the ids of
every acknowledged decision (route 200) and outcome (201), for an exact check against the
database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_CLOSE = re.compile(rb"\r\nconnection:\s*close", re.IGNORECASE)
_RETRY_AFTER = re.compile(rb"\r\nretry-after:\s*(\d+)", re.IGNORECASE)
_DETAIL = re.compile(rb'"detail":\s*"([^"]*)"')
_DECISION_ID = re.compile(rb'"decision_id":\s*"([0-9a-f-]{36})"')
AGENTS = ("chat-assistant", "code-reviewer", "summarizer")
IDLE_S = 2.0  # longest a kept-alive connection is reused after its last answer


class ConnectionDropped(Exception):
    """The server closed the connection, or answered something that is not HTTP/1.1."""


def percentiles(samples: list[float]) -> dict:
    """p50/p95/p99/max of latencies in seconds, as milliseconds (nearest rank)."""
    if not samples:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(samples)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {
        "n": len(ordered),
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": round(ordered[-1] * 1000, 3),
    }


@dataclass
class Endpoint:
    """What one endpoint answered: status counts and latencies (seconds)."""

    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    missing_retry_after: int = 0
    refusals: Counter = field(default_factory=Counter)  # detail of each 4xx/5xx, shortened

    def summary(self) -> dict:
        return {
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "refusals": dict(self.refusals.most_common(10)),
            "latency_ms": percentiles(self.latencies),
            "missing_retry_after": self.missing_retry_after,
        }


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    __slots__ = ("reader", "writer", "usable", "used_at")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.usable = reader, writer, True
        self.used_at = 0.0

    async def call(self, request: bytes) -> tuple[int, bytes, bytes]:
        """Send one request; (status, head, body). Marks itself unusable if the server closes."""
        self.writer.write(request)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            self.usable = False
            raise ConnectionDropped("connection closed before an answer") from exc
        if not head.startswith(b"HTTP/1.1 "):
            self.usable = False
            raise ConnectionDropped(f"not an HTTP/1.1 answer: {head[:40]!r}")
        length = _CONTENT_LENGTH.search(head)
        body = await self.reader.readexactly(int(length.group(1))) if length else b""
        if _CLOSE.search(head) or length is None:
            self.usable = False
        return int(head[9:12]), head, body

    def close(self) -> None:
        self.usable = False
        self.writer.close()


class LoadGenerator:
    def __init__(self, port: int, key: str, *, agents=AGENTS, timeout: float = 30.0) -> None:
        self.port, self.timeout = port, timeout
        self.agents = tuple(agents)
        self._auth = f"Authorization: Bearer {key}\r\n".encode()
        self._host = f"Host: 127.0.0.1:{port}\r\n".encode()
        self.route = Endpoint()
        self.outcome = Endpoint()
        self.errors: Counter = Counter()
        self.acked_decisions: list[str] = []
        self.acked_outcomes: list[str] = []
        self._idle: list[Connection] = []
        self._routes = [self._post(b"/api/v1/route", {"agent_id": a}) for a in self.agents]
        # Every outcome a success: failures would cool models down (and route 503 for want of
        # a model), which is the router's business, not the load's.
        self._outcome = json.dumps(
            {"success": True, "latency_ms": 120.5, "tokens_in": 300, "tokens_out": 80},
            separators=(",", ":"),
        ).encode()

    def _post(self, path: bytes, body: dict | bytes) -> bytes:
        data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        return b"".join(
            (
                b"POST ",
                path,
                b" HTTP/1.1\r\n",
                self._host,
                self._auth,
                b"Content-Type: application/json\r\nContent-Length: ",
                str(len(data)).encode(),
                b"\r\n\r\n",
                data,
            )
        )

    # -- one pair ---------------------------------------------------------------------------------

    async def _connection(self) -> Connection:
        # A connection idle for IDLE_S may be closing on the server's side: a request sent
        # into that close is never read, so do not reuse it.
        now = asyncio.get_running_loop().time()
        while self._idle:
            conn = self._idle.pop()
            if now - conn.used_at < IDLE_S and not conn.reader.at_eof():
                return conn
            conn.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port, limit=1 << 20)
        return Connection(reader, writer)

    async def pair(self, index: int, due: float) -> None:
        loop = asyncio.get_running_loop()
        conn: Connection | None = None
        stage = "route"
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._connection()
                status, head, body = await conn.call(self._routes[index % len(self._routes)])
                self._record(self.route, status, head, loop.time() - due, body)
                if status != 200:
                    return
                decision_id = _DECISION_ID.search(body).group(1).decode()
                self.acked_decisions.append(decision_id)
                stage = "outcome"
                if not conn.usable:  # the server closed it after the route answer
                    conn.close()
                    conn = await self._connection()
                path = f"/api/v1/decisions/{decision_id}/outcome".encode()
                request = self._post(path, self._outcome)
                sent = loop.time()
                status, head, body = await conn.call(request)
                self._record(self.outcome, status, head, loop.time() - sent, body)
                if status == 201:
                    self.acked_outcomes.append(decision_id)
        except TimeoutError:
            self.errors[f"{stage}: timeout"] += 1
            if conn is not None:
                conn.usable = False
        except (OSError, ConnectionDropped, asyncio.IncompleteReadError) as exc:
            self.errors[f"{stage}: {type(exc).__name__}"] += 1
            if conn is not None:
                conn.usable = False
        finally:
            if conn is not None:
                if conn.usable:
                    conn.used_at = loop.time()
                    self._idle.append(conn)
                else:
                    conn.close()

    @staticmethod
    def _record(endpoint: Endpoint, status: int, head: bytes, seconds: float, body: bytes) -> None:
        endpoint.statuses[status] += 1
        endpoint.latencies.append(seconds)
        if status >= 400:
            detail = _DETAIL.search(body)
            text = detail.group(1).decode(errors="replace") if detail else body[:60].decode()
            endpoint.refusals[f"{status} {re.sub(r'[0-9]+', 'N', text)[:60]}"] += 1
        if status == 503:
            retry = _RETRY_AFTER.search(head)
            if retry is None or int(retry.group(1)) < 1:
                endpoint.missing_retry_after += 1

    # -- the two modes -----------------------------------------------------------------------------

    async def open_loop(self, rate: float, duration: float, connections: int) -> float:
        """Start pairs at `rate` per second for `duration` seconds; wait for all; elapsed s."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(connections)
        tasks: set[asyncio.Task] = set()
        total = int(rate * duration)
        start = loop.time() + 0.05
        for index in range(total):
            due = start + index / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._bounded(slots, index, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks:
            await asyncio.gather(*list(tasks))
        return loop.time() - start

    async def burst(self, pairs: int, connections: int) -> float:
        """Start every pair at once over at most `connections` connections; wait for all."""
        loop = asyncio.get_running_loop()
        slots = asyncio.Semaphore(connections)
        start = loop.time()
        await asyncio.gather(*(self._bounded(slots, i, start) for i in range(pairs)))
        return loop.time() - start

    async def _bounded(self, slots: asyncio.Semaphore, index: int, due: float) -> None:
        async with slots:
            await self.pair(index, due)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    def report(self, **head) -> dict:
        return {
            **head,
            "route": self.route.summary(),
            "outcome": self.outcome.summary(),
            "errors": dict(self.errors),
            "client_cpu_s": round(time.process_time(), 3),
            "acked_decisions": self.acked_decisions,
            "acked_outcomes": self.acked_outcomes,
        }


def _raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, needed), hard))


async def _run(args) -> dict:
    gen = LoadGenerator(args.port, args.key, agents=args.agents.split(","), timeout=args.timeout)
    try:
        if args.mode == "rate":
            elapsed = await gen.open_loop(args.rate, args.duration, args.connections)
            head = {"mode": "rate", "rate": args.rate, "duration_s": args.duration,
                    "pairs": int(args.rate * args.duration)}  # fmt: skip
        else:
            elapsed = await gen.burst(args.pairs, args.connections)
            head = {"mode": "burst", "pairs": args.pairs, "connections": args.connections}
    finally:
        gen.close()
    return gen.report(**head, elapsed_s=round(elapsed, 3))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadgen",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("mode", choices=("rate", "burst"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True, help="a router (or admin) API key")
    parser.add_argument("--agents", default=",".join(AGENTS))
    parser.add_argument("--rate", type=float, default=500.0, help="pairs per second (rate)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds (rate)")
    parser.add_argument("--connections", type=int, default=256, help="most open at once")
    parser.add_argument("--pairs", type=int, default=10_000, help="pairs started at once (burst)")
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of each pair, s")
    parser.add_argument("--out", default="-", help="JSON report file (default: stdout)")
    args = parser.parse_args(argv)
    _raise_fd_limit(args.connections + 256)
    report = asyncio.run(_run(args))
    text = json.dumps(report)
    if args.out == "-":
        sys.stdout.write(text + "\n")
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)
    return report


if __name__ == "__main__":
    main()
