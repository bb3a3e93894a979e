"""`make demo`: simulated traffic through the real HTTP API, so the dashboard comes alive.

    .venv/bin/python -m bench.demo --host 127.0.0.1 --port 8080 [--duration 120] [--rate 20]

Worker threads route requests for the catalog's agents (POST /api/v1/route), hold each one for a
simulated inference time, then report its outcome (POST /api/v1/decisions/{id}/outcome) with a
latency drawn from a per-model log-normal around the model's prior latency and some failures.
One model turns flaky for the middle third of the run, so cooldowns and alerts show up too.
Stops after --duration seconds (default 120) or on Ctrl-C, and prints a summary.

The API key comes from MODEL_ROUTER_API_KEY (router or admin role); without it a router key is
created with `model-router keys create --role router` against the same database as the server
(same environment) and revoked when the demo ends. One auto-assign runs at the start, so the
assignments page has a run to compare against its greedy baseline: with an admin key from the
environment, or with a temporary admin key the demo creates and revokes at once when it made its
own key.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

KEY_PATTERN = re.compile(r"\bmr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\b")
ERROR_CODES = ("timeout", "rate_limited", "upstream_5xx", "context_overflow")


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


class Api:
    """A tiny JSON client over one keep-alive connection per thread."""

    def __init__(self, host: str, port: int, key: str, timeout: float = 10.0) -> None:
        self.host, self.port, self.key, self.timeout = host, port, key, timeout
        self._local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout
            )
        return conn

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # a keep-alive connection the server closed is retried once
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (ConnectionError, http.client.HTTPException, TimeoutError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        if response.status >= 400:
            raise ApiError(response.status, text)
        return json.loads(text) if text else {}

    def list_all(self, path: str) -> list[dict]:
        items, cursor = [], None
        while True:
            query = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
            page = self.call("GET", path + query)
            items.extend(page.get("items", []))
            cursor = page.get("next_cursor")
            if not cursor:
                return items


@dataclass
class Profile:
    """How one simulated model behaves: median latency, spread, failure rate."""

    median_ms: float
    sigma: float
    failure_rate: float

    def sample(self, rng: random.Random, flaky: bool) -> tuple[bool, float, str | None]:
        latency = rng.lognormvariate(math.log(self.median_ms), self.sigma)
        failure_rate = 0.35 if flaky else self.failure_rate
        if rng.random() < failure_rate:
            code = rng.choice(ERROR_CODES)
            if code == "timeout":
                latency = max(latency, 4 * self.median_ms)
            return False, round(latency, 1), code
        return True, round(latency, 1), None


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    routed: int = 0
    succeeded: int = 0
    failed: int = 0
    unavailable: int = 0
    errors: int = 0
    last_error: str = ""

    def add(self, name: str, error: str = "") -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)
            if error:
                self.last_error = error


class Demo:
    def __init__(self, api: Api, agents: list[dict], models: list[dict], args) -> None:
        self.api, self.agents, self.args = api, agents, args
        self.rng = random.Random(args.seed)
        self.profiles = {
            m["id"]: Profile(
                float(m.get("prior_latency_ms") or 800.0) * self.rng.uniform(0.7, 1.3),
                self.rng.uniform(0.25, 0.55),
                self.rng.uniform(0.005, 0.04),
            )
            for m in models
        }
        self.flaky_model: str | None = None  # chosen when the flaky phase starts
        self._served: dict[str, int] = {}
        self._flaky_lock = threading.Lock()
        self.tally = Tally()
        self.stop = threading.Event()
        self.started = time.monotonic()
        # Request slots from the pacer; bounded, so slots missed while workers are busy are
        # dropped instead of bursting later.
        self._slots: queue.Queue[None] = queue.Queue(maxsize=args.workers)

    def flaky_now(self) -> bool:
        third = self.args.duration / 3
        return third <= time.monotonic() - self.started < 2 * third

    def is_flaky(self, model_id: str) -> bool:
        """Count the model's traffic; in the middle third the busiest model so far turns flaky
        (the busiest, so that its cooldown and alert are sure to show)."""
        with self._flaky_lock:
            self._served[model_id] = self._served.get(model_id, 0) + 1
            if not self.flaky_now():
                return False
            if self.flaky_model is None:
                self.flaky_model = max(self._served, key=self._served.__getitem__)
            return model_id == self.flaky_model

    def pacer(self) -> None:
        """Releases `rate` request slots per second, evenly (a rate limiter for all workers)."""
        interval = 1.0 / self.args.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            next_at += interval
            try:
                self._slots.put_nowait(None)
            except queue.Full:
                pass
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def worker(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stop.is_set():
            try:
                self._slots.get(timeout=0.2)
            except queue.Empty:
                continue
            agent = rng.choice(self.agents)
            try:
                self.one_request(rng, agent)
            except ApiError as exc:
                self.tally.add("unavailable" if exc.status == 503 else "errors", str(exc))
                if exc.status == 401:
                    self.stop.set()
            except OSError as exc:
                self.tally.add("errors", f"{type(exc).__name__}: {exc}")
                self.stop.wait(0.5)

    def one_request(self, rng: random.Random, agent: dict) -> None:
        prompt_tokens = int(rng.lognormvariate(math.log(800), 0.9))
        decision = self.api.call(
            "POST",
            "/api/v1/route",
            {
                "agent_id": agent["id"],
                "task_type": agent.get("task_type"),
                "prompt_tokens": prompt_tokens,
            },
        )
        self.tally.add("routed")
        model_id = decision["model_id"]
        profile = self.profiles.get(model_id) or Profile(800.0, 0.4, 0.02)
        flaky = self.is_flaky(model_id)
        success, latency_ms, error_code = profile.sample(rng, flaky)
        # Hold the request for a scaled-down inference time: the router sees it in flight.
        self.stop.wait(min(latency_ms / 1000.0 * self.args.time_scale, 5.0))
        outcome = {
            "success": success,
            "latency_ms": latency_ms,
            "tokens_in": prompt_tokens,
            "tokens_out": int(rng.uniform(50, 600)) if success else 0,
        }
        if error_code:
            outcome["error_code"] = error_code
        self.api.call("POST", f"/api/v1/decisions/{decision['decision_id']}/outcome", outcome)
        self.tally.add("succeeded" if success else "failed")

    def run(self) -> Tally:
        threads = [threading.Thread(target=self.pacer, name="demo-pacer", daemon=True)]
        threads += [
            threading.Thread(
                target=self.worker, args=(self.args.seed + i,), daemon=True, name=f"demo-{i}"
            )
            for i in range(self.args.workers)
        ]
        for thread in threads:
            thread.start()
        deadline = self.started + self.args.duration
        try:
            while not self.stop.is_set() and time.monotonic() < deadline:
                self.stop.wait(min(10.0, max(0.0, deadline - time.monotonic())))
                self.report()
        except KeyboardInterrupt:
            print("\ninterrupted", flush=True)
        self.stop.set()
        for thread in threads:
            thread.join(timeout=6.0)
        return self.tally

    def report(self) -> None:
        t = self.tally
        elapsed = time.monotonic() - self.started
        flaky = f"  ({self.flaky_model} flaky now)" if self.flaky_now() and self.flaky_model else ""
        print(
            f"[{elapsed:5.0f} s] routed {t.routed}  ok {t.succeeded}  failed {t.failed}  "
            f"no model {t.unavailable}  errors {t.errors}  "
            f"({t.routed / max(elapsed, 1e-9):.1f}/s){flaky}",
            flush=True,
        )


def model_router(*args: str) -> str:
    """Run the `model-router` CLI (same environment, so the same database as the server)."""
    cli = Path(sys.executable).with_name("model-router")
    command = [str(cli) if cli.exists() else shutil.which("model-router") or "model-router"]
    result = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise SystemExit(
            f"`model-router {' '.join(args)}` failed: "
            f"{(result.stderr or result.stdout).strip()[-300:]}\n"
            "set MODEL_ROUTER_API_KEY to a router or admin key instead"
        )
    return result.stdout


def new_key(role: str, label: str) -> str:
    match = KEY_PATTERN.search(model_router("keys", "create", "--role", role, "--label", label))
    if match is None:
        raise SystemExit("`model-router keys create` printed no key")
    return match.group(0)


def resolve_key(explicit: str | None) -> tuple[str, bool]:
    """(key, made here): MODEL_ROUTER_API_KEY, else a new router key from the CLI."""
    key = explicit or os.environ.get("MODEL_ROUTER_API_KEY", "").strip()
    if key:
        return key, False
    key = new_key("router", "demo traffic")
    print("created a router key for the demo (model-router keys create --role router)")
    return key, True


def auto_assign(api: Api, may_make_admin_key: bool) -> None:
    """One auto-assign so the assignments page has a run to compare with its greedy baseline.

    A router key may not assign; when the demo made its own key it makes a temporary admin
    key for this one call and revokes it at once.
    """
    try:
        run = api.call("POST", "/api/v1/assignments/auto", {"method": "hungarian"})
    except ApiError as exc:
        if exc.status != 403 or not may_make_admin_key:
            print(f"auto-assign skipped ({exc}); the assignments page shows the last run")
            return
        admin = new_key("admin", "demo auto-assign (revoked at once)")
        try:
            run = Api(api.host, api.port, admin).call(
                "POST", "/api/v1/assignments/auto", {"method": "hungarian"}
            )
        finally:
            model_router("keys", "revoke", admin.split("_")[1])
    print(
        f"auto-assign: total score {run.get('total_score')} vs greedy "
        f"{run.get('greedy_total_score')} ({run.get('improvement_pct')} % better)"
    )


def prepare(api: Api, made_key: bool) -> tuple[list[dict], list[dict]]:
    agents = [a for a in api.list_all("/api/v1/agents") if a.get("status", "active") == "active"]
    models = [m for m in api.list_all("/api/v1/models") if m.get("status", "active") == "active"]
    if not agents or not models:
        raise SystemExit(
            "the catalog is empty: run `make run` (it bootstraps the example catalog)"
            " or POST models and agents first"
        )
    auto_assign(api, made_key)
    return agents, models


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.demo", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (20)")
    parser.add_argument("--workers", type=int, default=32, help="concurrent requests (32)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.25,
        help="fraction of the simulated latency each request is held (0.25)",
    )
    parser.add_argument("--seed", type=int, default=51)
    parser.add_argument("--key", default=None, help=argparse.SUPPRESS)  # tests; prefer the env
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.duration <= 0 or args.rate <= 0 or args.workers <= 0:
        raise SystemExit("--duration, --rate and --workers must be positive")
    key, made_key = resolve_key(args.key)
    api = Api(args.host, args.port, key)
    try:
        agents, models = prepare(api, made_key)
    except ApiError as exc:
        raise SystemExit(f"the API refused the demo's key or is not ready: {exc}") from None
    except OSError as exc:
        raise SystemExit(
            f"no server at http://{args.host}:{args.port}/ ({exc}); start it with `make run`"
        ) from None
    print(
        f"demo traffic for {args.duration:.0f} s at {args.rate:g} req/s over {len(agents)} "
        f"agents and {len(models)} models; dashboard: http://{args.host}:{args.port}/ "
        "(log in with a viewer key: model-router keys create --role viewer)",
        flush=True,
    )
    try:
        tally = Demo(api, agents, models, args).run()
    finally:
        if made_key:  # the demo's own key ends with it
            model_router("keys", "revoke", key.split("_")[1])
    print(
        f"done: routed {tally.routed}, ok {tally.succeeded}, failed {tally.failed}, "
        f"no model {tally.unavailable}, errors {tally.errors}"
        + (f" (last error: {tally.last_error})" if tally.last_error else "")
    )
    return 0 if tally.routed else 1


if __name__ == "__main__":
    sys.exit(main())
