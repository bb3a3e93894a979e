"""Dashboard pages: access control, CSRF, security headers, escaping, rendering."""

from __future__ import annotations

import re

import pytest

from app.web import queries, register_web, security

EVIL = "<script>alert(1)</script>"
KEYS = {
    "viewer-key": ("k-viewer", "viewer"),
    "admin-key": ("k-admin", "admin"),
    "router-key": ("k-router", "router"),
}

OVERVIEW = {
    "generated_at": "2026-01-21 12:00:00",
    "window": {"label": "last 60 minutes"},
    "series": {
        "labels": ["2026-01-21 11:59:00"],
        "requests_per_min": [12],
        "success_rate": [0.9],
        "p50_ms": [100.0],
        "p95_ms": [300.0],
        "p99_ms": [500.0],
        "cache_hit_rate": [0.5],
    },
    "totals": {"requests_per_min": 12, "success_rate": 0.9, "p95_ms": 300.0, "cache_hit_rate": 0.5},
    "db": {
        "backend": "sqlite",
        "pool": {"state": "healthy", "in_use": 1, "open": 2, "max": 4, "waiting": 0},
        "writer": {"queued": 0},
        "spool_depth": 3,
    },
    "alerts": {
        "open_count": 1,
        "items": [
            {
                "alert_id": 7,
                "severity": "critical",
                "model_id": EVIL,
                "metric": "error_rate",
                "observed_value": 0.5,
                "threshold": 0.05,
                "raised_at": "2026-01-21 11:58:00",
            }
        ],
    },
}


@pytest.fixture
def stub(monkeypatch):
    acked: list[str] = []
    monkeypatch.setattr(security, "identify_key", KEYS.get)
    monkeypatch.setattr(queries, "overview", lambda services: OVERVIEW)
    monkeypatch.setattr(
        queries,
        "acknowledge_alert",
        lambda services, alert_id, key_id: acked.append(alert_id) or True,
    )
    return acked


@pytest.fixture
def web(app, stub):
    register_web(app)
    return app.test_client()


def login(client, key: str, next_url: str = "") -> object:
    page = client.get("/login")
    token = csrf_of(page.get_data(as_text=True))
    return client.post("/login", data={"api_key": key, "csrf_token": token, "next": next_url})


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/dashboard/models",
        "/dashboard/assignments",
        "/dashboard/decisions",
        "/dashboard/alerts",
    ],
)
def test_pages_redirect_to_login_without_a_session(web, path):
    response = web.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/api/overview",
        "/dashboard/api/models",
        "/dashboard/api/assignments",
        "/dashboard/api/decisions",
        "/dashboard/api/alerts",
    ],
)
def test_json_endpoints_answer_401_problem_without_a_session(web, path):
    response = web.get(path)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 401


@pytest.mark.parametrize("key", ["viewer-key", "admin-key"])
def test_viewer_and_admin_keys_log_in(web, key):
    response = login(web, key)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert web.get("/").status_code == 200
    assert web.get("/dashboard/api/overview").get_json()["totals"]["requests_per_min"] == 12


def test_router_only_key_is_refused(web):
    response = login(web, "router-key")
    assert response.status_code == 403
    assert "viewer or admin" in response.get_data(as_text=True)
    assert web.get("/").status_code == 302
    assert web.get("/dashboard/api/overview").status_code == 401


def test_unknown_key_is_refused(web):
    response = login(web, "nonsense")
    assert response.status_code == 401
    assert "not valid" in response.get_data(as_text=True)
    assert web.get("/").status_code == 302


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
def test_login_returns_to_the_page_asked_for_but_never_off_site(web, target, location):
    assert login(web, "viewer-key", target).headers["Location"] == location


def test_the_redirect_to_login_carries_the_page(web):
    location = web.get("/dashboard/decisions?agent=a").headers["Location"]
    assert location == "/login?next=/dashboard/decisions?agent%3Da"


def test_login_without_csrf_token_is_refused(web):
    web.get("/login")
    response = web.post("/login", data={"api_key": "viewer-key"})
    assert response.status_code == 403
    assert web.get("/").status_code == 302


def test_session_cookie_flags(web):
    response = login(web, "viewer-key")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain HTTP here


def test_session_cookie_is_secure_behind_tls(web):
    page = web.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["Set-Cookie"]
    https = web.application.test_client().get("/login", base_url="https://localhost")
    assert "Secure" in https.headers["Set-Cookie"]


def test_logout_needs_csrf_and_ends_the_session(web):
    login(web, "viewer-key")
    assert web.post("/logout", data={}).status_code == 403
    assert web.get("/").status_code == 200
    token = csrf_of(web.get("/").get_data(as_text=True))
    assert web.post("/logout", data={"csrf_token": token}).status_code == 302
    assert web.get("/").status_code == 302


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_acknowledge_refused_without_the_right_csrf_token(web, stub, token):
    login(web, "viewer-key")
    data = {} if token is None else {"csrf_token": token}
    response = web.post("/dashboard/alerts/7/ack", data=data)
    assert response.status_code == 403
    assert stub == []


def test_acknowledge_with_the_right_token(web, stub):
    login(web, "viewer-key")
    token = csrf_of(web.get("/").get_data(as_text=True))
    response = web.post("/dashboard/alerts/7/ack", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard/alerts"
    assert stub == ["7"]


def test_acknowledge_needs_a_session(web, stub):
    response = web.post("/dashboard/alerts/7/ack", data={"csrf_token": "x"})
    assert response.status_code == 302
    assert stub == []


@pytest.mark.parametrize(
    "path", ["/login", "/", "/dashboard/api/overview", "/dashboard/static/js/dashboard.js"]
)
def test_every_response_has_a_strict_csp(web, path):
    if path != "/login":
        login(web, "viewer-key")
    with web.get(path) as response:
        assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_csp_on_redirects_and_errors(web):
    assert "Content-Security-Policy" in web.get("/").headers
    assert "Content-Security-Policy" in web.get("/dashboard/api/overview").headers


def test_pages_have_no_inline_script_or_style(web):
    login(web, "viewer-key")
    html = web.get("/").get_data(as_text=True)
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag
    assert all(not body.strip() for body in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S))
    assert " style=" not in html and "<style" not in html


def test_model_id_with_script_is_escaped(web):
    login(web, "viewer-key")
    html = web.get("/").get_data(as_text=True)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_chart_library_is_vendored(web):
    login(web, "viewer-key")
    html = web.get("/").get_data(as_text=True)
    assert "/dashboard/static/vendor/chartjs/chart.umd.min.js" in html
    assert "http://" not in html and "https://" not in html
    with web.get("/dashboard/static/vendor/chartjs/chart.umd.min.js") as lib:
        assert lib.status_code == 200
        assert b"Chart.js v4" in lib.data[:200]
