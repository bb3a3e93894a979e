"""Authentication and roles: every route declares its access; keys are hashes, revocable."""

from __future__ import annotations

import hashlib
import sqlite3
import time

import pytest
from support import ROLES, assert_problem

from app import keys as keyring_module
from app.api import auth
from app.api.openapi import described_rules

DECISION = "018f3c2e-7d4a-7b1c-8d2e-123456789abc"

# Every API operation with its access level: a change here is a deliberate change of who may
# do what (the first test checks the table against the declarations in app/api).
ACCESS_TABLE = [
    ("POST", "/api/v1/models", "admin"),
    ("GET", "/api/v1/models", "reader"),
    ("GET", "/api/v1/models/m1", "reader"),
    ("PATCH", "/api/v1/models/m1", "admin"),
    ("DELETE", "/api/v1/models/m1", "admin"),
    ("POST", "/api/v1/agents", "admin"),
    ("GET", "/api/v1/agents", "reader"),
    ("GET", "/api/v1/agents/a1", "reader"),
    ("PATCH", "/api/v1/agents/a1", "admin"),
    ("DELETE", "/api/v1/agents/a1", "admin"),
    ("GET", "/api/v1/scores", "reader"),
    ("POST", "/api/v1/assignments/auto", "admin"),
    ("GET", "/api/v1/assignments", "reader"),
    ("PUT", "/api/v1/assignments/a1", "admin"),
    ("POST", "/api/v1/route", "router"),
    ("GET", f"/api/v1/decisions/{DECISION}", "reader"),
    ("POST", f"/api/v1/decisions/{DECISION}/outcome", "router"),
    ("POST", "/api/v1/outcomes:batch", "router"),
    ("GET", "/api/v1/analytics/routing-stats", "viewer"),
    ("GET", "/api/v1/analytics/summary-24h", "viewer"),
    ("GET", "/api/v1/analytics/models/m1/performance", "viewer"),
    ("GET", "/api/v1/analytics/top-pairs", "viewer"),
    ("GET", "/api/v1/load", "viewer"),
    ("GET", "/api/v1/alerts", "viewer"),
    ("POST", "/api/v1/alerts/1/ack", "admin"),
    ("GET", "/api/v1/alert-rules", "viewer"),
    ("PUT", "/api/v1/alert-rules", "admin"),
    ("GET", "/api/v1/system/db", "viewer"),
    ("POST", "/api/v1/keys", "admin"),
    ("GET", "/api/v1/keys", "admin"),
    ("DELETE", "/api/v1/keys/0123456789abcdef", "admin"),
    ("GET", "/metrics", "viewer"),
    ("GET", "/openapi.json", "open"),
    ("GET", "/healthz", "open"),
    ("GET", "/readyz", "open"),
]


def test_every_route_declares_its_access(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static"):
            continue
        level = auth.access_of(app, rule.endpoint)
        if level is None or level not in auth.ACCESS:
            undeclared.append(f"{sorted(rule.methods)} {rule.rule} ({rule.endpoint})")
    assert undeclared == [], "routes without a declared access level"


def test_the_access_table_matches_the_declarations(app):
    adapter = app.url_map.bind("localhost")
    declared = set()
    for rule in described_rules(app):
        level = auth.access_of(app, rule.endpoint)
        if level != "session":  # the dashboard guards itself (app.web.security)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                declared.add((method, rule.rule, level))
    tabled = set()
    for method, path, level in ACCESS_TABLE:
        rule, _ = adapter.match(path, method=method, return_rule=True)
        tabled.add((method, rule.rule, level))
    assert tabled == declared


def _expected(level: str, role: str | None) -> int | None:
    """401 / 403 when the caller may not; None when it may (any other status)."""
    if level == "open":
        return None
    if role is None:
        return 401
    return None if role in auth.ACCESS[level] else 403


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(
    "method,path,level", ACCESS_TABLE, ids=[f"{m} {p}" for m, p, _ in ACCESS_TABLE]
)
def test_roles(shared_api, method, path, level, role):
    response = shared_api.call(
        method, path, json={} if method in ("POST", "PUT", "PATCH") else None, role=role
    )
    expected = _expected(level, role)
    if expected is None:
        assert response.status_code not in (401, 403), response.get_json()
        assert response.status_code < 500, response.get_data(as_text=True)
    else:
        assert_problem(response, expected)
        if expected == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer mr_nothex_x",
        "Bearer not-a-key",
        "Bearer mr_0123456789abcdef_" + "A" * 43,
        "Token {admin}",
        "{admin}",
    ],
)
def test_bad_credentials_are_401(shared_api, header):
    response = shared_api.client.get(
        "/api/v1/models", headers={"Authorization": header.format(admin=shared_api.keys["admin"])}
    )
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="model-router"')


def test_right_key_id_with_a_wrong_secret_is_401(api, keys):
    prefix = keys["admin"][:-43]
    forged = prefix + ("B" if keys["admin"][-43] != "B" else "C") + keys["admin"][-42:]
    response = api.client.get("/api/v1/models", headers={"Authorization": f"Bearer {forged}"})
    assert_problem(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_scheme_is_case_insensitive(api, keys):
    response = api.client.get(
        "/api/v1/models", headers={"Authorization": f"bearer {keys['admin']}"}
    )
    assert response.status_code == 200


def test_keys_are_stored_only_as_hashes(app, keys, config):
    with sqlite3.connect(config["sqlite.path"]) as conn:
        rows = conn.execute("SELECT KEY_ID, KEY_HASH, ROLE FROM API_KEYS").fetchall()
    assert len(rows) == 3
    dump = repr(rows)
    for key in keys.values():
        assert key.split("_", 2)[2] not in dump and key not in dump
    for key_id, key_hash, role in rows:
        key = keys[role]
        secret = key.split("_", 2)[2]
        assert key_hash == hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def test_comparison_is_constant_time(app, keys, monkeypatch):
    calls = []
    real = keyring_module.hmac.compare_digest
    monkeypatch.setattr(
        keyring_module.hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b)
    )
    assert auth.keyring(app).verify(keys["viewer"]).role == "viewer"
    assert calls == [1]


def test_revocation_through_the_api_is_immediate(api, keys):
    assert api.get("/api/v1/load", role="viewer").status_code == 200
    key_id = keys["viewer"].split("_")[1]
    revoked = api.delete(f"/api/v1/keys/{key_id}")
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    assert_problem(api.get("/api/v1/load", role="viewer"), 401)


def test_revocation_elsewhere_takes_effect_within_the_cache_ttl(app, keys):
    clock = [1000.0]
    ring = keyring_module.KeyRing(app.extensions["services"].db, ttl_s=5.0, clock=lambda: clock[0])
    other_process = keyring_module.KeyRing(app.extensions["services"].db)
    assert ring.verify(keys["router"]).role == "router"
    other_process.revoke(keys["router"].split("_")[1])
    clock[0] += 4.9
    assert ring.verify(keys["router"]) is not None  # still cached
    clock[0] += 0.2
    # past the TTL the known key is answered from memory once while a background read
    # refreshes it (a slow or absent database never holds up a request); then it is refused
    ring.verify(keys["router"])
    deadline = time.monotonic() + 5
    while ring.verify(keys["router"]) is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ring.verify(keys["router"]) is None


def test_a_verified_key_is_cached(app, keys, monkeypatch):
    from app.db import store

    reads = []
    real = store.get_api_key
    monkeypatch.setattr(
        store, "get_api_key", lambda db, key_id: reads.append(key_id) or real(db, key_id)
    )
    ring = keyring_module.KeyRing(app.extensions["services"].db)
    for _ in range(5):
        assert ring.verify(keys["admin"]).role == "admin"
    assert len(reads) == 1


def test_dashboard_login_helper(app, keys):
    with app.test_request_context():
        services = app.extensions["services"]
        assert auth.verify_key(services, keys["viewer"]) == (keys["viewer"].split("_")[1], "viewer")
        assert auth.verify_key(services, "mr_0123456789abcdef_" + "x" * 43) is None


def test_key_format():
    key_id, key, key_hash = keyring_module.new_key()
    assert key.startswith(f"mr_{key_id}_") and len(key_id) == 16
    assert keyring_module.split_key(key) == (key_id, key.split("_", 2)[2])
    assert len(key_hash) == 64 and key.split("_", 2)[2] not in key_hash


def test_a_known_key_outlives_an_unreadable_database_for_key_stale_s_only(app, keys):
    """By design for outages (auth.key_stale_s): the key keeps working from memory while the
    database cannot be read, up to the bound; past it the key must be read again and fails."""
    from app.db.database import Database

    db = Database.from_config(app.extensions["services"].config)
    db.start()
    clock = [1000.0]
    ring = keyring_module.KeyRing(db, ttl_s=1.0, clock=lambda: clock[0], stale_s=10.0)
    assert ring.verify(keys["router"]).role == "router"
    db.close()  # from here on every read fails
    clock[0] += 10.0  # the entry expired at 1001: 9 s past its TTL
    assert ring.verify(keys["router"]).role == "router"  # from memory; the refresh fails
    clock[0] += 2.0  # 11 s past the TTL
    with pytest.raises(Exception):  # noqa: B017 - whatever the closed database raises
        ring.verify(keys["router"])


def test_the_stale_bound_is_the_setting(app):
    assert auth.keyring(app).stale_s == app.extensions["services"].config["auth.key_stale_s"]
