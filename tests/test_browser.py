"""The dashboard in a real headless Chromium against the real server and a seeded database.

Starts `model-router serve` on a free loopback port over a temporary SQLite database, seeds it
through the HTTP API (catalog, auto-assign, alert rule, routed traffic with outcomes), then logs in
with Playwright driving Debian's /usr/bin/chromium, checks that every chart of every page is drawn
with data and that no Content-Security-Policy violation or script error occurs, acknowledges an
alert, and saves a screenshot of each page (kept in DASHBOARD_SCREENSHOT_DIR when set).

Skipped only when /usr/bin/chromium is missing and not under CI=true; CI installs it first
(.ci/install-browser.sh).
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGES = {
    "overview": ("/", ["requests", "success", "latency", "cache"]),
    "models": (
        "/dashboard/models",
        ["model-latency", "model-share", "model-success", "model-utilization"],
    ),
    "assignments": ("/dashboard/assignments", ["runs", "assigned-scores"]),
    "decisions": ("/dashboard/decisions", []),
    "alerts": ("/dashboard/alerts", []),
}

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists() and os.environ.get("CI") != "true":
    pytestmark.append(
        pytest.mark.skip(
            reason=f"{CHROMIUM} is missing (apt-get install chromium, or .ci/install-browser.sh)"
        )
    )

KEY = re.compile(r"\bmr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\b")
MODELS = [
    ("fast-small", 250.0, {"coding": 0.6, "reasoning": 0.5, "chat": 0.9}, 0.02),
    ("balanced-medium", 700.0, {"coding": 0.8, "reasoning": 0.75, "chat": 0.8}, 0.04),
    ("deep-large", 1800.0, {"coding": 0.95, "reasoning": 0.95, "chat": 0.7}, 0.25),
]
AGENTS = [
    ("code-assistant", "coding", {"coding": 1.0, "reasoning": 0.4}),
    ("research-agent", "reasoning", {"reasoning": 1.0, "coding": 0.2}),
    ("support-bot", "chat", {"chat": 1.0}),
]
# Fires for every model with traffic: the seeded database always has open alerts to acknowledge.
ALERT_RULE = {
    "rule_id": "browser-test-latency",
    "name": "p95 latency above 1 ms over 60 minutes",
    "metric": "p95_latency_ms",
    "comparator": "gt",
    "threshold": 1.0,
    "window_minutes": 60,
    "min_samples": 1,
    "severity": "warning",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DashboardServer:
    """`model-router serve` in a subprocess over a private SQLite database, and its seeding."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.cli_path = Path(sys.executable).with_name("model-router")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MODEL_ROUTER_", "HANA_"))}
        env.update(
            MODEL_ROUTER_DB_BACKEND="sqlite",
            MODEL_ROUTER_SQLITE_PATH=str(workdir / "router.db"),
            MODEL_ROUTER_SPOOL_PATH=str(workdir / "spool.db"),
            MODEL_ROUTER_CATALOG="",
            MODEL_ROUTER_THREADS="8",
            MODEL_ROUTER_ALERTS_INTERVAL_S="0.5",
            MODEL_ROUTER_HEALTH_REFRESH_S="0.5",
            MODEL_ROUTER_SNAPSHOT_INTERVAL_S="0.5",
        )
        self.env = env
        self.process: subprocess.Popen | None = None
        self.log = workdir / "server.log"
        self.agents = [a[0] for a in AGENTS]

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.cli_path), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"model-router {' '.join(args)}: {result.stderr[-2000:]}"
        return result.stdout

    def new_key(self, role: str) -> str:
        return KEY.search(self.cli("keys", "create", "--role", role, "--label", "browser test"))[0]

    def __enter__(self) -> DashboardServer:
        self.cli("migrate")
        self.admin_key = self.new_key("admin")
        self.viewer_key = self.new_key("viewer")
        self.router_key = self.new_key("router")
        command = [str(self.cli_path), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if self.api("GET", "/readyz", key=None)[0] == 200:
                    self._check_dashboard()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise AssertionError(f"server not ready in 60 s: {self.log.read_text()[-3000:]}")

    def _check_dashboard(self) -> None:
        try:
            with urllib.request.urlopen(self.url + "/login", timeout=10) as response:
                ok = response.status == 200 and b"api_key" in response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            ok = False
        if not ok:
            self.__exit__(None, None, None)
            raise AssertionError(
                "no dashboard at /login: create_app must call app.web.register_web(app)"
            )

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def api(self, method: str, path: str, body=None, key: str | None = "admin"):
        headers = {"Accept": "application/json"}
        if key is not None:
            headers["Authorization"] = "Bearer " + getattr(self, f"{key}_key")
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read() or b"null")

    def must(self, method: str, path: str, body=None, key: str = "admin"):
        status, answer = self.api(method, path, body, key)
        assert 200 <= status < 300, f"{method} {path}: {status} {answer}"
        return answer

    def seed(self, rng: random.Random, requests: int = 240) -> None:
        for model_id, latency, capabilities, _ in MODELS:
            self.must(
                "POST",
                "/api/v1/models",
                {
                    "id": model_id,
                    "endpoint": f"http://127.0.0.1:9/{model_id}",
                    "capabilities": capabilities,
                    "context_window": 128000,
                    "max_concurrency": 8,
                    "prior_latency_ms": latency,
                    "cost_per_1k_tokens": 0.5,
                },
            )
        for agent_id, task_type, requirements in AGENTS:
            self.must(
                "POST",
                "/api/v1/agents",
                {"id": agent_id, "task_type": task_type, "requirements": requirements},
            )
        self.must("POST", "/api/v1/assignments/auto", {"method": "hungarian"})
        self.must("PUT", "/api/v1/alert-rules", {"items": [ALERT_RULE]})
        profiles = {m[0]: (m[1], m[3]) for m in MODELS}
        for i in range(requests):
            agent_id, task_type, _ = AGENTS[i % len(AGENTS)]
            status, decision = self.api(
                "POST",
                "/api/v1/route",
                {
                    "agent_id": agent_id,
                    "task_type": task_type,
                    "prompt_tokens": rng.randint(50, 4000),
                },
                key="router",
            )
            if status == 503:
                continue
            assert status == 200, decision
            median, failure_rate = profiles[decision["model_id"]]
            success = rng.random() >= failure_rate
            self.must(
                "POST",
                f"/api/v1/decisions/{decision['decision_id']}/outcome",
                {
                    "success": success,
                    "latency_ms": round(rng.lognormvariate(math.log(median), 0.4), 1),
                    "tokens_in": rng.randint(50, 4000),
                    "tokens_out": rng.randint(10, 800),
                    "error_code": None if success else "upstream_5xx",
                },
                key="router",
            )
        deadline = time.monotonic() + 30
        while not self.must("GET", "/api/v1/alerts?state=open")["items"]:
            assert time.monotonic() < deadline, "no alert opened within 30 s"
            time.sleep(0.25)

    def alert_state(self, alert_id: str) -> str:
        for state in ("open", "acknowledged", "resolved"):
            items = self.must("GET", f"/api/v1/alerts?state={state}&limit=500")["items"]
            if any(str(item.get("alert_id", item.get("id"))) == str(alert_id) for item in items):
                return state
        return "missing"


# Reads, in the page, what Chart.js holds for every canvas and whether its pixels are non-blank.
CHART_STATE = """() => Array.from(document.querySelectorAll("canvas[data-chart]")).map(c => {
  const chart = window.Chart.getChart(c);
  const points = chart ? chart.data.datasets.reduce(
      (n, ds) => n + ds.data.filter(v => v !== null && v !== undefined).length, 0) : 0;
  const px = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let painted = 0;
  for (let i = 3; i < px.length; i += 4) { if (px[i] !== 0) { painted++; } }
  return {name: c.dataset.chart, points: points, painted: painted, width: c.width};
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dashboard")
    with DashboardServer(workdir, free_port()) as running:
        running.seed(random.Random(51))
        yield running


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    chosen = os.environ.get("DASHBOARD_SCREENSHOT_DIR")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=server.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.problems = problems
    yield page
    context.close()


def log_in(page, key: str) -> None:
    page.goto("/")
    assert page.url.endswith("/login?next=/")
    page.fill("#api_key", key)
    page.click("button[type=submit]")
    page.wait_for_url("**/")


def wait_for_refresh(page) -> None:
    page.wait_for_function("() => Number(document.body.dataset.refreshes || 0) >= 1")


def test_every_chart_is_drawn_with_seeded_data(page, server, screenshots):
    log_in(page, server.viewer_key)
    for name, (path, charts) in PAGES.items():
        page.goto(path)
        if charts:
            wait_for_refresh(page)
            state = {c["name"]: c for c in page.evaluate(CHART_STATE)}
            assert sorted(state) == sorted(charts), name
            for chart in charts:
                assert state[chart]["points"] > 0, f"{name}: chart {chart} has no data"
                assert state[chart]["painted"] > 0, f"{name}: chart {chart} is blank"
        # The decisions page is a long table: its first screen says enough.
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=name != "decisions")
    page.goto("/")
    # The refresh loop keeps going: a second poll of /dashboard/api/overview, charts kept.
    page.wait_for_function("() => Number(document.body.dataset.refreshes || 0) >= 2")
    assert all(chart["points"] > 0 for chart in page.evaluate(CHART_STATE))
    assert "refresh failed" not in page.locator("#refresh-status").inner_text()
    assert page.problems == []


def test_decisions_search_and_viewer_cannot_acknowledge(page, server):
    log_in(page, server.viewer_key)
    page.goto("/dashboard/decisions")
    agent = server.agents[0]
    page.fill("input[name=agent]", agent)
    page.click("form.search button[type=submit]")
    page.wait_for_url("**agent=*")
    rows = page.locator("table.decisions tbody tr")
    assert rows.count() > 0
    assert all(text == agent for text in rows.locator("td:nth-child(2)").all_inner_texts())
    page.goto("/dashboard/alerts")
    assert page.locator("button[data-ack]").count() == 0
    assert page.problems == []


def test_admin_acknowledges_an_alert(page, server, screenshots):
    log_in(page, server.admin_key)
    page.goto("/dashboard/alerts")
    buttons = page.locator("button[data-ack]")
    assert buttons.count() > 0, "the seeded database should have an open alert"
    alert_id = buttons.first.get_attribute("data-ack")
    buttons.first.click()
    page.wait_for_url("**/dashboard/alerts")
    assert "acknowledged" in page.locator(".flash").inner_text()
    assert page.locator(f"button[data-ack='{alert_id}']").count() == 0
    acked = page.locator(f"#alert-{alert_id}")
    assert acked.count() == 1
    page.screenshot(path=str(screenshots / "alerts-acknowledged.png"), full_page=True)
    assert server.alert_state(alert_id) == "acknowledged"
    page.click("button.link-button")  # log out
    page.wait_for_url("**/login")
    page.goto("/dashboard/alerts")
    assert "/login" in page.url
    assert page.problems == []
