"""Abusive and broken clients against the real server over real sockets (issue 14).

One `model-router serve` process with small limits (4 WSGI threads, a 64-connection budget,
1 s header and idle timeout, 3 s body timeout), so that a few dozen sockets show what thousands
would do. Every client socket has a timeout: a test fails, never hangs. Latency targets (100 ms
with 200 slow uploaders and 2,000 idle connections) are measured by bench/abuse.py, not here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest
from server_process import CATALOG, ServerProcess, seed

THREADS = 4
MAX_CONNECTIONS = 64
BODY_TIMEOUT_S = 3
IDLE_TIMEOUT_S = 1
SOCKET_TIMEOUT_S = 15.0
ROUTE = "/api/v1/route"
ROUTE_BODY = {"agent_id": CATALOG["agents"][0]["id"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    seeded = seed(tmp_path_factory.mktemp("abuse"))
    env = {
        "MODEL_ROUTER_THREADS": str(THREADS),
        "MODEL_ROUTER_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "MODEL_ROUTER_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "MODEL_ROUTER_TIMEOUT_S": str(IDLE_TIMEOUT_S),
        "MODEL_ROUTER_BACKGROUND": "0",
    }
    with ServerProcess(seeded, env) as running:
        yield running


def _connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=SOCKET_TIMEOUT_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one answer on `sock` (read until the body is whole)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


class SlowUploader(threading.Thread):
    """Sends a request's headers, then one body byte every `pause_s` until answered."""

    def __init__(self, server, path: str, headers: dict[str, str], pause_s: float = 0.5):
        super().__init__(daemon=True)
        self.sock = _connect(server)
        self.sock.sendall(_head("POST", path, {**headers, "Content-Length": "200"}))
        self.pause_s = pause_s
        self.answered = threading.Event()
        self.sent = 0

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while not self.answered.wait(self.pause_s) and self.sent < 199:
                self.sock.sendall(b"a")
                self.sent += 1

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        try:
            return _answer(self.sock)
        finally:
            self.answered.set()
            self.sock.close()


def test_slow_bodies_hold_no_thread_and_get_408(server):
    """Issue 14 #1: 3x as many trickling bodies as threads, with and without a key, while
    /healthz and route still answer; each trickler then gets a 408 problem and is closed."""
    router = {"Authorization": f"Bearer {server.seeded.keys['router']}"}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    json_type = {"Content-Type": "application/json"}
    slow = [SlowUploader(server, "/login", form) for _ in range(2 * THREADS)]
    slow += [SlowUploader(server, ROUTE, {**router, **json_type}) for _ in range(THREADS)]
    for uploader in slow:
        uploader.start()
    started = time.monotonic()
    with server.client("router", timeout=SOCKET_TIMEOUT_S) as client:
        for _ in range(5):
            assert client.get("/healthz").status == 200
            assert client.post(ROUTE, ROUTE_BODY).status == 200
    # the answers above came while every uploader was still sending (well inside the timeout)
    assert time.monotonic() - started < BODY_TIMEOUT_S
    answers = [uploader.answer() for uploader in slow]
    assert all(uploader.sent >= 2 for uploader in slow)  # they really trickled
    for status, headers, body in answers:
        assert status == 408
        assert headers["content-type"] == "application/problem+json"
        detail = json.loads(body)["detail"]
        assert detail == f"the request body did not arrive within {BODY_TIMEOUT_S} s"
        assert headers.get("connection") == "close"


def test_idle_kept_alive_connections_do_not_starve_new_clients(server):
    """Issue 14 #2: the whole connection budget kept alive and silent after one request each;
    a new client is served once the idle timeout has closed them, and they were closed."""
    idle = []
    for _ in range(MAX_CONNECTIONS):
        sock = _connect(server)
        sock.sendall(_head("GET", "/healthz", {}))
        assert _answer(sock)[0] == 200
        idle.append(sock)
    with server.client(key=None, timeout=SOCKET_TIMEOUT_S) as client:
        assert client.get("/healthz").status == 200
    for sock in idle:
        assert sock.recv(1) == b""  # closed by the server, not by us
        sock.close()


@pytest.mark.parametrize("chunked", [True, False])
def test_a_body_past_the_limit_is_413_chunked_or_not(server, chunked):
    """Issue 14 #7: 2 MB to route, chunked or with its Content-Length: 413, not invalid JSON."""
    body = b'{"agent_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT_S)
    headers = {
        "Authorization": f"Bearer {server.seeded.keys['router']}",
        "Content-Type": "application/json",
    }
    try:
        if chunked:
            pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
            conn.request("POST", ROUTE, body=pieces, headers=headers, encode_chunked=True)
        else:
            conn.request("POST", ROUTE, body=body, headers=headers)
        answer = conn.getresponse()
        problem = json.loads(answer.read())
    finally:
        conn.close()
    assert answer.status == 413
    assert answer.getheader("Content-Type") == "application/problem+json"
    assert problem["status"] == 413 and problem["title"] == "Request Entity Too Large"


def _request(server, method, path, body=b"", headers=None) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection, raw bytes in and out."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=SOCKET_TIMEOUT_S)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        conn.close()


def test_redirects_never_follow_the_clients_host(server):
    """Issue 14 #6: Werkzeug's own 308 (merged slashes) pointed at the Host header."""
    status, headers, _ = _request(
        server, "GET", "//dashboard//models", headers={"Host": "evil.example"}
    )
    assert status == 308
    assert headers["location"] == "/dashboard/models"


@pytest.mark.parametrize(
    "content_type,body,status,detail",
    [
        ("application/json", '{"agent_id": "a"}'.encode("utf-16"), 400, "not UTF-8"),
        ("application/merge-patch+json", b'{"agent_id": "a"}', 415, "application/json"),
        ("application/json", b'{"agent_id": ' + b"1" * 5000 + b"}", 400, "too many digits"),
        ("application/json", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
    ],
    ids=["utf-16-bom", "merge-patch", "5000-digits", "100k-deep"],
)
def test_odd_bodies_get_a_plain_4xx(server, content_type, body, status, detail):
    """Issue 14 #8 and #9: as documented (400/415), with no Python internals in the detail."""
    headers = {
        "Authorization": f"Bearer {server.seeded.keys['router']}",
        "Content-Type": content_type,
    }
    got, answer_headers, raw = _request(server, "POST", ROUTE, body, headers)
    problem = json.loads(raw)
    assert (got, answer_headers["content-type"]) == (status, "application/problem+json")
    assert detail in problem["detail"]
    for internal in ("sys.set_int_max_str_digits", "recursion", "Exceeds the limit"):
        assert internal not in problem["detail"]


def test_an_answer_with_a_new_key_is_never_cached(server):
    """Issue 14 #10."""
    headers = {
        "Authorization": f"Bearer {server.seeded.keys['admin']}",
        "Content-Type": "application/json",
    }
    body = json.dumps({"role": "viewer", "label": "cache test"}).encode()
    status, answer_headers, raw = _request(server, "POST", "/api/v1/keys", body, headers)
    assert status == 201 and json.loads(raw)["key"].startswith("mr_")
    assert answer_headers["cache-control"] == "no-store"


@pytest.fixture
def lone_server(tmp_path):
    """A server of its own: the test below revokes admin keys."""
    with ServerProcess(seed(tmp_path), {"MODEL_ROUTER_BACKGROUND": "0"}) as running:
        yield running


def _as(server, key: str):
    return dataclasses.replace(server.client(key=None, timeout=SOCKET_TIMEOUT_S), key=key)


def _revoke_each_other(server, pair: list[str]) -> list[int]:
    """Key 0 revokes key 1 and key 1 key 0, released at the same moment; the two statuses."""
    barrier = threading.Barrier(2)
    statuses = [0, 0]

    def revoke(n: int) -> None:
        target = pair[1 - n].split("_")[1]
        with _as(server, pair[n]) as client:
            barrier.wait(SOCKET_TIMEOUT_S)
            statuses[n] = client.request("DELETE", f"/api/v1/keys/{target}").status

    threads = [threading.Thread(target=revoke, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(SOCKET_TIMEOUT_S)
    return statuses


def test_two_admins_revoking_each_other_at_once_leave_one(lone_server):
    """Issue 14 #5: with exactly two active admin keys, each revoking the other at the same
    moment revokes one, round after round; never both (before: both 200, no admin left)."""
    server = lone_server
    with _as(server, server.seeded.keys["admin"]) as admin:
        second = admin.post("/api/v1/keys", {"role": "admin", "label": "second"}).body["key"]
    pair = [server.seeded.keys["admin"], second]
    for _ in range(8):
        statuses = _revoke_each_other(server, pair)
        # the loser is refused as the last admin (409), or its key is already revoked (401)
        assert sorted(statuses) in ([200, 401], [200, 409])
        survivor = pair[statuses.index(200)]
        with _as(server, survivor) as client:
            keys = client.get("/api/v1/keys?limit=500").body["items"]
            active = [k for k in keys if k["role"] == "admin" and not k.get("revoked_at")]
            assert [k["key_id"] for k in active] == [survivor.split("_")[1]]
            made = client.post("/api/v1/keys", {"role": "admin", "label": "next"}).body["key"]
        pair = [survivor, made]


@pytest.fixture
def small_server(tmp_path):
    """Every model with 2 slots (8 in all, so a key or an agent may hold 4), and in-flight
    requests that expire after 1 s."""
    seeded = seed(tmp_path)
    env = {"MODEL_ROUTER_INFLIGHT_TIMEOUT_S": "1", "MODEL_ROUTER_CATALOG_REFRESH_S": "0.1"}
    with ServerProcess(seeded, env) as running:
        with _as(running, seeded.keys["admin"]) as admin:
            for model in CATALOG["models"]:
                patched = admin.request(
                    "PATCH", f"/api/v1/models/{model['id']}", {"max_concurrency": 2}
                )
                assert patched.status == 200, patched
        yield running


def _route(client, agent_id: str):
    return client.post(ROUTE, {"agent_id": agent_id})


def test_a_key_that_never_reports_outcomes_gets_429_and_others_are_served(small_server):
    """Issue 14 #3: unreported routes from one key take its quota, not the whole capacity."""
    server = small_server
    first, second = CATALOG["agents"][0]["id"], CATALOG["agents"][1]["id"]
    with _as(server, server.seeded.keys["router"]) as greedy:
        held = [_route(greedy, first) for _ in range(4)]
        assert [r.status for r in held] == [200] * 4
        refused = _route(greedy, second)
        assert refused.status == 429 and refused.headers["retry-after"] == "1"
        assert "quota.key_share" in refused.body["detail"]
        assert "4 requests in flight" in refused.body["detail"]
        with _as(server, server.seeded.keys["admin"]) as other:
            assert _route(other, second).status == 200  # the capacity left is others'
            agent_full = _route(other, first)
            assert agent_full.status == 429 and "quota.agent_share" in agent_full.body["detail"]
        done = held[0].body["decision_id"]
        outcome = {"success": True, "latency_ms": 5}
        assert greedy.post(f"/api/v1/decisions/{done}/outcome", outcome).status == 201
        assert _route(greedy, second).status == 200  # an outcome gave the slot back


def test_abandoned_requests_expire_without_cooling_any_model(small_server):
    """Issue 14 #3: requests whose outcome never comes expire after load.inflight_timeout_s,
    free their slots and quota, and count as no model's failure."""
    server = small_server
    agent = CATALOG["agents"][0]["id"]
    with _as(server, server.seeded.keys["router"]) as client:
        assert [_route(client, agent).status for _ in range(4)] == [200] * 4
        assert _route(client, agent).status == 429
        deadline = time.monotonic() + SOCKET_TIMEOUT_S
        while (answer := _route(client, agent)).status == 429 and time.monotonic() < deadline:
            time.sleep(0.2)  # expiry runs within a second of the timeout
        assert answer.status == 200
    with _as(server, server.seeded.keys["admin"]) as admin:
        load = admin.get("/api/v1/load").body
    assert load["cooldowns"] == []
    assert sum(item["in_flight"] for item in load["items"]) == 1  # the last route only
    # nothing learned from the four: no failure, no latency (before: 4 failures of 1 s each)
    assert all(item["breaker"] == "closed" for item in load["items"])
    assert all(item["ewma_latency_ms"] is None for item in load["items"])


def _cookie(headers: dict[str, str]) -> str:
    return headers["set-cookie"].split(";", 1)[0]


def _csrf(page: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()


def _form(server, path: str, cookie: str, fields: dict[str, str]):
    body = urllib.parse.urlencode(fields).encode()
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    return _request(server, "POST", path, body, headers)


def test_logout_ends_the_session_on_the_server(server):
    """Issue 14 #4: a cookie copied before logout no longer opens the dashboard."""
    with _as(server, server.seeded.keys["admin"]) as admin:
        viewer = admin.post("/api/v1/keys", {"role": "viewer", "label": "dashboard"}).body["key"]
    _, headers, page = _request(server, "GET", "/login")
    anonymous = _cookie(headers)
    fields = {"api_key": viewer, "csrf_token": _csrf(page), "next": "/dashboard/models"}
    status, headers, _ = _form(server, "/login", anonymous, fields)
    assert status == 302
    copied = _cookie(headers)
    status, _, page = _request(server, "GET", "/dashboard/models", headers={"Cookie": copied})
    assert status == 200
    status, headers, _ = _form(server, "/logout", copied, {"csrf_token": _csrf(page)})
    assert status == 302 and headers["location"] == "/login"
    status, headers, _ = _request(server, "GET", "/dashboard/models", headers={"Cookie": copied})
    assert status == 302 and headers["location"].startswith("/login")


def test_the_wsgi_interface_still_serves(tmp_path):
    """server.interface = wsgi, for a deployment behind a body-buffering proxy: granian's own
    WSGI threads, no front (and no body timeout: the proxy's job there)."""
    env = {"MODEL_ROUTER_INTERFACE": "wsgi", "MODEL_ROUTER_BACKGROUND": "0"}
    with ServerProcess(seed(tmp_path), env) as running, running.client("router") as client:
        assert client.get("/healthz").status == 200
        routed = client.post(ROUTE, ROUTE_BODY)
        assert routed.status == 200
        outcome = {"success": True, "latency_ms": 5}
        path = f"/api/v1/decisions/{routed.body['decision_id']}/outcome"
        assert client.post(path, outcome).status == 201
