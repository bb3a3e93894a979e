"""Dashboard pages: access control, CSRF, security headers, escaping, rendering."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.db import store
from app.keys import KeyRing
from app.web import register_web, series
from app.web.formatting import fmt, metric_text
from tests.contract_support import assert_percentile, histogram_percentile

EVIL = "<script>alert(1)</script>"
MODELS = {"fast-small": 250.0, "balanced-medium": 800.0, EVIL: 1500.0}
AGENTS = ("code-assistant", "support-bot")
STRATEGIES = ("adaptive", "least_loaded", "p2c")
SEED_MINUTES = 90  # one decision per minute, the newest a minute ago


def uuid7_at(moment: datetime, n: int) -> str:
    """A UUIDv7 for `moment`, so seeded ids sort by their (past) decision time."""
    ms = int(moment.timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | ((n & 0xFFF) << 64) | (0b10 << 62) | n
    return str(uuid.UUID(int=value))


def seed(db) -> dict:
    """A small history in the real database, through the store: catalog, an active assignment
    run, decisions with outcomes over the last 90 minutes, an alert rule that fires."""
    for model_id, latency in MODELS.items():
        store.create_model(
            db,
            {
                "id": model_id,
                "endpoint": "http://127.0.0.1:9/m",
                "context_window": 8192,
                "max_concurrency": 4,
                "prior_latency_ms": latency,
                "capabilities": {"coding": 0.8},
            },
        )
    for agent_id in AGENTS:
        store.create_agent(
            db, {"id": agent_id, "task_type": "coding", "requirements": {"coding": 1.0}}
        )
    run = store.create_assignment_run(
        db,
        {
            "method": "hungarian",
            "total_score": 1.6,
            "greedy_total_score": 1.4,
            "improvement_pct": 14.3,
        },
        [
            {"agent_id": AGENTS[0], "model_id": "fast-small", "score": 0.9},
            {"agent_id": AGENTS[1], "model_id": EVIL, "score": 0.7},
        ],
    )
    now = datetime.now(UTC)
    decisions, outcomes = [], []
    for i in range(SEED_MINUTES):
        at = now - timedelta(minutes=SEED_MINUTES - i)
        model_id = list(MODELS)[i % len(MODELS)]
        decision = {
            "decision_id": uuid7_at(at, i),
            "decided_at": at,
            "agent_id": AGENTS[i % 2],
            "task_type": "coding",
            "model_id": model_id,
            "strategy": STRATEGIES[i % 3],
            "score": 0.8,
            "cache_hit": i % 4 == 0,
            "fallbacks": [{"model_id": "balanced-medium", "endpoint": "http://x"}],
            "reason": f"picked {model_id} <b>fast</b>",
        }
        decisions.append(decision)
        if i % 10 != 9:  # every tenth decision has no outcome yet
            outcomes.append(
                {
                    "decision_id": decision["decision_id"],
                    "success": i % 7 != 0,
                    "latency_ms": MODELS[model_id] + i,
                    "tokens_in": 100,
                    "tokens_out": 50,
                    "error_code": None if i % 7 else "timeout",
                }
            )
    store.save_routing_decisions(db, decisions)
    store.save_metrics_batch(db, outcomes)
    store.put_alert_rule(
        db,
        {
            "rule_id": "test-latency",
            "name": "p95 above 1 ms",
            "metric": "p95_latency_ms",
            "comparator": "gt",
            "threshold": 1.0,
            "window_minutes": 1440,
            "min_samples": 1,
            "severity": "warning",
        },
    )
    opened = store.evaluate_alerts(db)
    return {"run": run, "decisions": decisions, "alerts": opened}


class FakeEngine:
    """The engine's live, in-process figures (stored figures come from the real database)."""

    def load(self):
        return [
            {"model_id": "fast-small", "in_flight": 2, "capacity": 4, "utilization": 0.5},
            {"model_id": EVIL, "in_flight": 0, "capacity": 4, "utilization": 0.0},
        ]

    def cooldowns(self):
        return [
            {
                "model_id": EVIL,
                "state": "cooling",
                "until": 1234.5,
                "until_utc": "2026-01-21T12:00:30+00:00",
                "reason": "3 consecutive failures",
            }
        ]

    def db_figures(self):
        return {
            "backend": "sqlite",
            "pool": {"size": 2, "idle": 1, "active": 1, "waiting": 0, "min_size": 1, "max_size": 4},
            "writer": {"mode": "database", "queue_depth_rows": 0, "spool_depth": 3},
        }

    def scores(self):
        models = list(MODELS)
        return {
            "agents": list(AGENTS),
            "models": models,
            "scores": [[0.9, 0.6, 0.3], [0.5, None, 0.7]],
            "feasible": [[True, True, True], [True, False, True]],
        }


@pytest.fixture
def seeded(app):
    services = app.extensions["services"]
    services.engine = FakeEngine()
    return seed(services.db)


@pytest.fixture
def keys(app) -> dict:
    ring = KeyRing(app.extensions["services"].db)
    return {role: ring.create(role, "test")[1] for role in ("viewer", "admin", "router")}


@pytest.fixture
def web(app, seeded, keys):
    register_web(app)
    return app.test_client()


def login(client, key: str, next_url: str = ""):
    page = client.get("/login")
    token = csrf_of(page.get_data(as_text=True))
    return client.post("/login", data={"api_key": key, "csrf_token": token, "next": next_url})


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def open_alert_id(app) -> int:
    return next(
        a["id"] for a in store.list_alerts(app.extensions["services"].db) if a["state"] == "open"
    )


PAGES = [
    "/",
    "/dashboard/models",
    "/dashboard/assignments",
    "/dashboard/decisions",
    "/dashboard/alerts",
]
APIS = [
    "/dashboard/api/overview",
    "/dashboard/api/models",
    "/dashboard/api/assignments",
    "/dashboard/api/decisions",
    "/dashboard/api/alerts",
]


# -- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_redirect_to_login_without_a_session(web, path):
    response = web.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("path", APIS)
def test_json_endpoints_answer_401_problem_without_a_session(web, path):
    response = web.get(path)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 401


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_viewer_and_admin_keys_log_in(web, keys, role):
    response = login(web, keys[role])
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    for path in PAGES + APIS:
        assert web.get(path).status_code == 200, path


def test_router_only_key_is_refused(web, keys):
    response = login(web, keys["router"])
    assert response.status_code == 403
    assert "viewer or admin" in response.get_data(as_text=True)
    assert web.get("/").status_code == 302
    assert web.get("/dashboard/api/overview").status_code == 401


@pytest.mark.parametrize("key", ["nonsense", "mr_0123456789abcdef_" + "A" * 43])
def test_unknown_key_is_refused(web, key):
    response = login(web, key)
    assert response.status_code == 401
    assert "not valid" in response.get_data(as_text=True)
    assert web.get("/").status_code == 302


def test_revoked_key_ends_the_session(web, keys, app):
    login(web, keys["viewer"])
    assert web.get("/").status_code == 200
    key_id = keys["viewer"].split("_")[1]
    store.revoke_api_key(app.extensions["services"].db, key_id)
    app.extensions["api_keys"]._cache.clear()
    assert web.get("/").status_code == 302
    assert web.get("/dashboard/api/overview").status_code == 401


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/dashboard/models", "/dashboard/models"),
        ("/dashboard/decisions?agent=a", "/dashboard/decisions?agent=a"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_login_returns_to_the_page_asked_for_but_never_off_site(web, keys, target, location):
    assert login(web, keys["viewer"], target).headers["Location"] == location


def test_the_redirect_to_login_carries_the_page(web):
    location = web.get("/dashboard/decisions?agent=a").headers["Location"]
    assert location == "/login?next=/dashboard/decisions?agent%3Da"


def test_login_without_csrf_token_is_refused(web, keys):
    web.get("/login")
    response = web.post("/login", data={"api_key": keys["viewer"]})
    assert response.status_code == 403
    assert web.get("/").status_code == 302


def test_session_cookie_flags_and_no_key_inside(web, keys):
    response = login(web, keys["viewer"])
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("model_router_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    secret = keys["viewer"].rsplit("_", 1)[1]
    assert secret not in cookie


def test_session_cookie_is_secure_behind_tls(web):
    page = web.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["Set-Cookie"]
    https = web.application.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


def test_logout_needs_csrf_and_ends_the_session(web, keys):
    login(web, keys["viewer"])
    assert web.post("/logout", data={}).status_code == 403
    assert web.get("/").status_code == 200
    token = csrf_of(web.get("/").get_data(as_text=True))
    assert web.post("/logout", data={"csrf_token": token}).status_code == 302
    assert web.get("/").status_code == 302


# -- CSRF and the acknowledge action -----------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_acknowledge_refused_without_the_right_csrf_token(web, keys, app, token):
    login(web, keys["admin"])
    alert_id = open_alert_id(app)
    data = {} if token is None else {"csrf_token": token}
    response = web.post(f"/dashboard/alerts/{alert_id}/ack", data=data)
    assert response.status_code == 403
    assert store.get_alert(app.extensions["services"].db, alert_id)["state"] == "open"


def test_acknowledge_with_the_right_token(web, keys, app):
    login(web, keys["admin"])
    alert_id = open_alert_id(app)
    page = web.get("/dashboard/alerts").get_data(as_text=True)
    assert f'data-ack="{alert_id}"' in page
    response = web.post(f"/dashboard/alerts/{alert_id}/ack", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard/alerts"
    assert store.get_alert(app.extensions["services"].db, alert_id)["state"] == "acknowledged"
    page = web.get("/dashboard/alerts").get_data(as_text=True)
    assert f"Alert {alert_id} acknowledged." in page
    assert f'data-ack="{alert_id}"' not in page
    again = web.post(f"/dashboard/alerts/{alert_id}/ack", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 303
    assert "is not open" in web.get("/dashboard/alerts").get_data(as_text=True)


def test_a_viewer_sees_alerts_but_cannot_acknowledge(web, keys, app):
    login(web, keys["viewer"])
    alert_id = open_alert_id(app)
    page = web.get("/dashboard/alerts").get_data(as_text=True)
    assert f'id="alert-{alert_id}"' in page and "data-ack=" not in page
    response = web.post(f"/dashboard/alerts/{alert_id}/ack", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 403
    assert store.get_alert(app.extensions["services"].db, alert_id)["state"] == "open"


@pytest.mark.parametrize("alert_id", ["999999", "abc"])
def test_acknowledging_an_unknown_alert_changes_nothing(web, keys, alert_id):
    login(web, keys["admin"])
    token = csrf_of(web.get("/").get_data(as_text=True))
    response = web.post(f"/dashboard/alerts/{alert_id}/ack", data={"csrf_token": token})
    assert response.status_code == 303
    assert "is not open" in web.get("/dashboard/alerts").get_data(as_text=True)


def test_acknowledge_needs_a_session(web, app):
    alert_id = open_alert_id(app)
    response = web.post(f"/dashboard/alerts/{alert_id}/ack", data={"csrf_token": "x"})
    assert response.status_code == 302
    assert store.get_alert(app.extensions["services"].db, alert_id)["state"] == "open"


# -- headers, escaping, assets --------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login", *PAGES, *APIS, "/dashboard/static/js/dashboard.js"])
def test_every_response_has_a_strict_csp(web, keys, path):
    if path != "/login":
        login(web, keys["viewer"])
    with web.get(path) as response:
        assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_csp_on_redirects_and_errors(web, keys):
    assert "Content-Security-Policy" in web.get("/").headers
    assert "Content-Security-Policy" in web.get("/dashboard/api/overview").headers
    login(web, keys["viewer"])
    assert "Content-Security-Policy" in web.post("/dashboard/alerts/1/ack").headers
    missing = web.get("/dashboard/no-such-page")
    assert missing.status_code == 404
    assert "Content-Security-Policy" in missing.headers
    assert "Content-Security-Policy" not in web.get("/healthz").headers  # the API's own


@pytest.mark.parametrize("path", PAGES + ["/login"])
def test_pages_have_no_inline_script_or_style(web, keys, path):
    login(web, keys["viewer"])
    html = web.get(path).get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag
    assert all(not body.strip() for body in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S))
    assert " style=" not in html and "<style" not in html
    assert re.search(r"<[^>]+\son[a-z]+\s*=", html) is None  # no inline event handlers


@pytest.mark.parametrize("path", PAGES)
def test_model_id_with_script_is_shown_escaped(web, keys, path):
    login(web, keys["admin"])
    html = web.get(path).get_data(as_text=True)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>fast</b>" not in html


def test_chart_library_is_vendored(web, keys):
    login(web, keys["viewer"])
    html = web.get("/").get_data(as_text=True)
    assert "/dashboard/static/vendor/chartjs/chart.umd.min.js" in html
    assert "http://" not in html and "https://" not in html
    with web.get("/dashboard/static/vendor/chartjs/chart.umd.min.js") as lib:
        assert lib.status_code == 200
        assert b"Chart.js v4" in lib.data[:200]
    with web.get("/dashboard/static/vendor/chartjs/LICENSE.md") as licence:
        assert b"MIT License" in licence.data


# -- what the pages show -----------------------------------------------------------------------


def test_overview_series_counts_the_seeded_decisions(web, keys, seeded):
    login(web, keys["viewer"])
    body = web.get("/dashboard/api/overview").get_json()
    series = body["series"]
    minutes = [datetime.fromisoformat(label) for label in series["labels"]]
    assert len(minutes) == 60 and minutes == sorted(minutes)  # traffic in every minute
    slot = {m: n for n, m in enumerate(minutes)}

    def minute_of(i: int):
        return seeded["decisions"][i]["decided_at"].replace(second=0, microsecond=0)

    window = [i for i in range(SEED_MINUTES) if minute_of(i) in slot]
    with_outcome = [i for i in window if i % 10 != 9]
    assert sum(series["requests_per_min"]) == len(window) >= 58
    assert sum(series["outcomes"]) == len(with_outcome)
    assert body["totals"]["success_rate"] == pytest.approx(
        sum(1 for i in with_outcome if i % 7 != 0) / len(with_outcome)
    )
    assert body["totals"]["cache_hit_rate"] == pytest.approx(
        sum(1 for i in window if i % 4 == 0) / len(window)
    )
    for i in window[-3:]:  # the newest decision (89) has no outcome yet, 88 and 87 have
        p50 = series["p50_ms"][slot[minute_of(i)]]
        if i % 10 == 9:
            assert p50 is None
            continue
        latency = MODELS[list(MODELS)[i % 3]] + i  # the minute's only outcome: its histogram value
        assert p50 == pytest.approx(histogram_percentile([latency], 50), rel=1e-9)
        assert_percentile(p50, latency)
    assert body["alerts"]["open_count"] == 3
    assert body["db"]["pool"] == {
        "state": "healthy",
        "in_use": 1,
        "open": 2,
        "max": 4,
        "waiting": 0,
    }
    assert body["db"]["spool_depth"] == 3


def test_models_page_shares_and_cooldowns(web, keys):
    login(web, keys["viewer"])
    body = web.get("/dashboard/api/models").get_json()
    rows = {m["model_id"]: m for m in body["models"]}
    assert set(rows) == set(MODELS)
    with_outcome = [i for i in range(SEED_MINUTES) if i % 10 != 9]
    assert sum(m["requests"] for m in rows.values()) == len(with_outcome)
    assert sum(m["share"] for m in rows.values()) == pytest.approx(1.0)
    assert rows[EVIL]["cooldown_state"] == "cooling"
    assert rows["fast-small"]["utilization"] == 0.5
    assert set(body["latency"]["series"]) == set(MODELS)
    assert len(body["latency"]["labels"]) == 6  # traffic only in the last two hours
    html = web.get("/dashboard/models").get_data(as_text=True)
    assert "3 consecutive failures" in html


def test_assignments_page_shows_matrix_and_the_last_run(web, keys):
    login(web, keys["viewer"])
    body = web.get("/dashboard/api/assignments").get_json()
    assert body["last_run"]["improvement_pct"] == 14.3
    assert body["runs"][0]["greedy_total_score"] == 1.4
    cells = {(r["agent_id"], c["model_id"]): c for r in body["matrix"]["rows"] for c in r["cells"]}
    assert cells[("code-assistant", "fast-small")]["assigned"] is True
    assert cells[("code-assistant", "fast-small")]["heat"] == 9
    assert cells[("support-bot", "balanced-medium")]["feasible"] is False
    html = web.get("/dashboard/assignments").get_data(as_text=True)
    assert "heat-9 assigned" in html and "infeasible" in html
    assert "+14.3 %" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", lambda i: True),
        ("?agent=code-assistant", lambda i: AGENTS[i % 2] == "code-assistant"),
        ("?model=fast-small", lambda i: list(MODELS)[i % 3] == "fast-small"),
        ("?strategy=p2c", lambda i: STRATEGIES[i % 3] == "p2c"),
        (
            "?agent=support-bot&strategy=adaptive",
            lambda i: AGENTS[i % 2] == "support-bot" and STRATEGIES[i % 3] == "adaptive",
        ),
    ],
)
def test_decisions_search(web, keys, seeded, query, expected):
    login(web, keys["viewer"])
    wanted = [d["decision_id"] for i, d in enumerate(seeded["decisions"]) if expected(i)][::-1]
    shown, url = [], "/dashboard/api/decisions" + query
    while url:
        body = web.get(url).get_json()
        shown += [d["decision_id"] for d in body["items"]]
        cursor = body["next_cursor"]
        url = (
            f"/dashboard/api/decisions{query}{'&' if query else '?'}before={cursor}"
            if cursor
            else None
        )
    assert shown == wanted


def test_decisions_page_shows_reasons_fallbacks_and_outcomes(web, keys):
    login(web, keys["viewer"])
    html = web.get("/dashboard/decisions?strategy=adaptive").get_data(as_text=True)
    assert "picked fast-small &lt;b&gt;fast&lt;/b&gt;" in html
    assert '<span class="chip">balanced-medium</span>' in html
    assert "badge-failed" in html and "<code>timeout</code>" in html
    assert "pending" in html
    assert 'option value="adaptive" selected' in html


def test_decisions_search_ignores_bad_input(web, keys):
    login(web, keys["viewer"])
    body = web.get("/dashboard/api/decisions?strategy=nope&before=x'--").get_json()
    assert len(body["items"]) == 50


# -- shaping and formatting rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "step"), [(None, 0), (0.0, 0), (0.04, 0), (0.56, 6), (1.0, 10), (1.7, 10)]
)
def test_heat_steps(score, step):
    assert series.heat(score) == step


def test_trim_leading_hours():
    hours = series.axis(datetime(2026, 1, 21, 12, 30, tzinfo=UTC), timedelta(hours=1), 24)
    assert hours[-1] == datetime(2026, 1, 21, 12, tzinfo=UTC) and len(hours) == 24
    assert series.trim_leading_hours(hours, [], 6) == hours[-6:]
    early = [{"hour_start": "2026-01-21T01:00:00+00:00"}]
    assert series.trim_leading_hours(hours, early, 6) == hours[-12:]


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (None, "int", "–"),
        (1234.4, "int", "1,234"),
        (0.9876, "pct", "98.8 %"),
        (850.2, "ms", "850 ms"),
        (12345.0, "ms", "12.35 s"),
        (-3.25, "pctpoints", "-3.2 %"),
        ("2026-01-21T20:50:03.5+00:00", "time", "20:50:03"),
        ("not a time", "time", "not a time"),
    ],
)
def test_fmt(value, kind, text):
    assert fmt(value, kind) == text


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("error_rate", 0.125, "12.5 %"),
        ("p95_latency_ms", 5200.0, "5,200 ms"),
        ("utilization", 0.95, "95.0 %"),
        ("no_traffic", 0, "0"),
    ],
)
def test_alert_values_read_by_metric(metric, value, text):
    assert metric_text(metric, value) == text


def test_quiet_minutes_before_the_first_request_are_trimmed():
    per_minute = {"requests_per_min": [0] * 50 + [3] * 10, "p50_ms": [None] * 50 + [1.0] * 10}
    trimmed = series.trim_quiet_start(per_minute, 15)
    assert trimmed["requests_per_min"] == [0] * 5 + [3] * 10
    assert len(trimmed["p50_ms"]) == 15
    busy = {"requests_per_min": [0] * 10 + [1] * 50}
    assert len(series.trim_quiet_start(busy, 15)["requests_per_min"]) == 50
    assert (
        len(series.trim_quiet_start({"requests_per_min": [0] * 60}, 15)["requests_per_min"]) == 15
    )


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/dashboard\n/x",
        "/ /evil",
    ],
)
def test_login_never_redirects_off_site(web, keys, target):
    response = login(web, keys["viewer"], target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_follows_a_same_site_next(web, keys):
    response = login(web, keys["viewer"], "/dashboard/models")
    assert response.headers["Location"] == "/dashboard/models"
