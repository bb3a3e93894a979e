"""End to end: the real server process (`model-router serve`, granian) over real HTTP.

register -> auto-assign -> route -> outcome -> analytics, with the analytics checked against
what was sent; then the README's curl walkthrough, run as written. The server is always
terminated, and its log must not contain any key.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("model-router")
START_TIMEOUT_S = 60.0


class Http:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body=None, key: str | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if key:
            request.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, _decode(response.read(), response.headers)
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read(), error.headers)


def _decode(raw: bytes, headers):
    kind = headers.get("Content-Type", "")
    return json.loads(raw) if "json" in kind and raw else raw.decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """A migrated, bootstrapped database and the server process on a free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HANA_", "MODEL_ROUTER_"))}
    env.update(
        {
            "MODEL_ROUTER_SQLITE_PATH": str(tmp_path / "router.db"),
            "MODEL_ROUTER_SPOOL_PATH": str(tmp_path / "spool.db"),
            "MODEL_ROUTER_CATALOG": str(ROOT / "config" / "catalog.example.json"),
            "MODEL_ROUTER_THREADS": "8",
            "HANA_POOL_MIN": "1",
        }
    )
    for command in (["migrate"], ["bootstrap"]):
        done = subprocess.run(
            [str(CLI), *command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    admin = done.stdout.strip().splitlines()[-1]
    assert admin.startswith("mr_"), done.stdout
    port = _free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    http = Http(f"http://127.0.0.1:{port}")
    try:
        _wait_ready(http, process, log_path)
        yield http, admin, log_path
    finally:
        _stop(process)


def _wait_ready(http: Http, process, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if http.call("GET", "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"server not ready in {START_TIMEOUT_S} s:\n{log_path.read_text()}")


def _stop(process) -> None:
    """SIGTERM (the server drains), then SIGKILL to the process group it started in."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_register_assign_route_outcome_analytics(server):
    http, admin, log_path = server
    status, router = http.call("POST", "/api/v1/keys", {"role": "router", "label": "e2e"}, admin)
    assert status == 201
    status, viewer = http.call("POST", "/api/v1/keys", {"role": "viewer", "label": "e2e"}, admin)
    assert status == 201
    router, viewer = router["key"], viewer["key"]

    model = {
        "id": "e2e-model",
        "endpoint": "http://127.0.0.1:11434/v1",
        "context_window": 65536,
        "max_concurrency": 8,
        "capabilities": {"e2e_skill": 0.99, "chat": 0.5},
        "prior_latency_ms": 100,
    }
    assert http.call("POST", "/api/v1/models", model, admin)[0] == 201
    agent = {"id": "e2e-agent", "task_type": "e2e_skill", "requirements": {"e2e_skill": 1.0}}
    assert http.call("POST", "/api/v1/agents", agent, admin)[0] == 201
    status, run = http.call("POST", "/api/v1/assignments/auto", {"method": "hungarian"}, admin)
    assert status == 200 and run["dry_run"] is False
    assigned = {a["agent_id"]: a["model_id"] for a in run["assignments"]}
    assert assigned["e2e-agent"] == "e2e-model"
    assert len(assigned) + len(run["unassigned"]) == 7  # six example agents and this one

    sent = []
    for n in range(6):
        status, decision = http.call(
            "POST",
            "/api/v1/route",
            {"agent_id": "e2e-agent", "strategy": "assigned", "prompt_tokens": 100 + n},
            router,
        )
        assert status == 200 and decision["model_id"] == "e2e-model", decision
        outcome = {
            "success": n != 3,
            "latency_ms": 100.0 * (n + 1),
            "tokens_in": 100 + n,
            "tokens_out": 10 * n,
        }
        status, recorded = http.call(
            "POST", f"/api/v1/decisions/{decision['decision_id']}/outcome", outcome, router
        )
        assert status == 201, recorded
        sent.append(outcome)
    status, again = http.call(
        "POST", f"/api/v1/decisions/{decision['decision_id']}/outcome", sent[-1], router
    )
    assert status == 409 and again["status"] == 409

    status, stats = http.call("GET", "/api/v1/analytics/routing-stats?hours=1", key=viewer)
    assert status == 200
    item = {i["model_id"]: i for i in stats["items"]}["e2e-model"]
    assert item["requests"] == len(sent)
    assert item["successes"] == sum(o["success"] for o in sent)
    assert item["failures"] == sum(not o["success"] for o in sent)
    assert item["tokens_in"] == sum(o["tokens_in"] for o in sent)
    assert item["tokens_out"] == sum(o["tokens_out"] for o in sent)
    assert item["avg_latency_ms"] == pytest.approx(sum(o["latency_ms"] for o in sent) / len(sent))
    status, pairs = http.call("GET", "/api/v1/analytics/top-pairs?limit=3", key=viewer)
    assert status == 200 and pairs["items"][0]["agent_id"] == "e2e-agent"

    status, metrics = http.call("GET", "/metrics", key=viewer)
    assert status == 200
    assert re.search(
        r'model_router_route_decisions_total\{model_id="e2e-model",'
        r'strategy="assigned"\} 6\.0',
        metrics,
    ), metrics[:2000]
    assert http.call("GET", "/api/v1/models")[0] == 401
    assert http.call("POST", "/api/v1/models", model, viewer)[0] == 403
    log = log_path.read_text()
    for key in (admin, router, viewer):
        assert key not in log


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README walkthrough uses curl")
def test_readme_walkthrough_runs_as_written(server):
    http, admin, log_path = server
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## API walkthrough", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 6
    script = "\n".join(blocks)
    script = re.sub(r"^BASE=.*$", f"BASE={http.base}", script, flags=re.M)
    script = re.sub(r"^ADMIN=.*$", f"ADMIN={admin}", script, flags=re.M)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert '"field": "capabilities.coding"' in done.stdout  # the error example's answer
    assert "model_router_route_decisions_total" in done.stdout
