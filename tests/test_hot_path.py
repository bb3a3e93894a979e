"""HotPath (app.api.hot_path): the route and outcome requests it serves itself are answered
exactly as Flask answers them, with the same metrics and request ids, and every unusual request
is Flask's to answer.

Each comparison sends one request twice to the same app: to `app.wsgi_app` (HotPath) and to
`app.wsgi_app.flask` (Flask's own wsgi_app), and compares the status line, the header list and
the body bytes. Whether Flask's request machinery ran is told by its `request_started` signal,
which the hot path does not send.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import pytest
from flask import request_started
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import EnvironBuilder

from app.api.hot_path import HotPath
from app.logs import RequestIdFilter

ROUTE = "/api/v1/route"
UNKNOWN_DECISION = "018f3c2e-7d4a-7b1c-8d2e-123456789abc"
JSON = "application/json"
TRACE = "trace-42"
FRESH_ID = re.compile(r"[0-9a-f]{32}")
ROUTE_BODY = json.dumps({"agent_id": "chat-bot"}).encode()
OUTCOME_BODY = json.dumps({"success": True, "latency_ms": 120.0, "tokens_out": 7}).encode()


def outcome_path(decision_id: str) -> str:
    return f"/api/v1/decisions/{decision_id}/outcome"


@pytest.fixture
def overrides(overrides):
    """One failed outcome cools its model down, so an outcome request logs a line."""
    return {**overrides, "routing.cooldown_failures": 1}


@pytest.fixture
def flask_calls(app) -> list[str]:
    """Paths of the requests that went through Flask's full_dispatch_request."""
    calls: list[str] = []

    def record(sender, **_extra) -> None:
        from flask import request

        calls.append(request.path)

    with request_started.connected_to(record, app):
        yield calls


@dataclass
class Answer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    def json(self):
        return json.loads(self.body)


def call(wsgi, path: str, *, method="POST", body=b"", auth=None, content_type=JSON, **kw) -> Answer:
    """One request to a WSGI callable, answered as the server would see it."""
    headers = dict(kw.pop("headers", {}))
    stream = kw.pop("input_stream", None)  # in place of the body's, after the environ is built
    if auth is not None:
        headers["Authorization"] = auth
    builder = EnvironBuilder(
        path=path, method=method, data=body, headers=headers, content_type=content_type, **kw
    )
    environ = builder.get_environ()
    if stream is not None:
        environ["wsgi.input"] = stream
    started = []
    chunks = wsgi(environ, lambda status, headers, exc_info=None: started.append((status, headers)))
    try:
        body = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    (status, headers_out), *_ = started
    return Answer(status, list(headers_out), body)


def both(app, path: str, **request) -> tuple[Answer, Answer]:
    """The same request to HotPath and to Flask's own wsgi_app."""
    request.setdefault("headers", {"X-Request-Id": TRACE})
    return call(app.wsgi_app, path, **request), call(app.wsgi_app.flask, path, **request)


def bearer(keys: dict, role: str) -> str:
    return f"Bearer {keys[role]}"


def route_decision(api) -> dict:
    response = api.post(ROUTE, {"agent_id": "chat-bot"}, role="router")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_create_app_installs_the_hot_path(app):
    assert isinstance(app.wsgi_app, HotPath)
    assert app.wsgi_app.flask.__self__ is app  # Flask's own wsgi_app behind it


# -- requests Flask answers ------------------------------------------------------------------------

UNKNOWN_OUTCOME = outcome_path(UNKNOWN_DECISION)
UPPER_CASE_OUTCOME = outcome_path(UNKNOWN_DECISION.upper())
TOO_LARGE = object()  # a body one byte over MAX_CONTENT_LENGTH
UNKNOWN_KEY = "Bearer mr_0123456789abcdef_" + "A" * 43

DELEGATED = [
    # (case, path, role or Authorization value, body, content type, query, expected status)
    ("no key", ROUTE, None, ROUTE_BODY, JSON, "", 401),
    ("not a bearer key", ROUTE, "Basic dXNlcjpwYXNz", ROUTE_BODY, JSON, "", 401),
    ("malformed key", ROUTE, "Bearer nonsense", ROUTE_BODY, JSON, "", 401),
    ("unknown key", ROUTE, UNKNOWN_KEY, ROUTE_BODY, JSON, "", 401),
    ("viewer key", ROUTE, "viewer", ROUTE_BODY, JSON, "", 403),
    ("text body", ROUTE, "router", ROUTE_BODY, "text/plain", "", 415),
    ("no content type", ROUTE, "router", ROUTE_BODY, None, "", 415),
    ("empty body", ROUTE, "router", b"", JSON, "", 400),
    ("blank body", ROUTE, "router", b" \n ", JSON, "", 400),
    ("invalid JSON", ROUTE, "router", b'{"agent_id": ', JSON, "", 400),
    ("duplicate keys", ROUTE, "router", b'{"agent_id": "a", "agent_id": "b"}', JSON, "", 400),
    ("NaN", ROUTE, "router", b'{"agent_id": "a", "prompt_tokens": NaN}', JSON, "", 400),
    ("not UTF-8", ROUTE, "router", b'{"agent_id": "\xff"}', JSON, "", 400),
    ("missing field", ROUTE, "router", b"{}", JSON, "", 422),
    ("bad fields", ROUTE, "router", b'{"agent_id": "a b", "prompt_tokens": -1}', JSON, "", 422),
    ("unknown field", ROUTE, "router", b'{"agent_id": "a", "x": 1}', JSON, "", 422),
    ("not an object", ROUTE, "router", b"[1]", JSON, "", 422),
    ("query string", ROUTE, "router", ROUTE_BODY, JSON, "debug=1", 422),
    ("too large", ROUTE, "router", TOO_LARGE, JSON, "", 413),
    ("outcome, no key", UNKNOWN_OUTCOME, None, OUTCOME_BODY, JSON, "", 401),
    ("outcome, bad body", UNKNOWN_OUTCOME, "router", b'{"success": 1}', JSON, "", 422),
    ("bad decision id", outcome_path("not-a-decision"), "router", OUTCOME_BODY, JSON, "", 404),
    ("upper-case id", UPPER_CASE_OUTCOME, "router", OUTCOME_BODY, JSON, "", 404),
]


@pytest.mark.parametrize(
    "path,who,body,content_type,query,status",
    [case[1:] for case in DELEGATED],
    ids=[case[0] for case in DELEGATED],
)
def test_unusual_requests_get_flasks_answer(
    app, keys, flask_calls, path, who, body, content_type, query, status
):
    if body is TOO_LARGE:
        body = ROUTE_BODY.ljust(app.config["MAX_CONTENT_LENGTH"] + 1)
    auth = bearer(keys, who) if who in keys else who
    hot, flask = both(
        app, path, body=body, auth=auth, content_type=content_type, query_string=query
    )
    assert flask.status.startswith(f"{status} "), flask.body
    assert hot == flask
    assert len(flask_calls) == 2  # the hot path handed its request to Flask


def test_a_body_that_cannot_be_read_gets_flasks_answer(app, keys, flask_calls):
    class Broken:
        def read(self, *_args):
            raise OSError("connection reset by peer")

    request = {
        "body": ROUTE_BODY,
        "auth": bearer(keys, "router"),
        "headers": {"X-Request-Id": TRACE},
    }
    hot = call(app.wsgi_app, ROUTE, input_stream=Broken(), **request)
    flask = call(app.wsgi_app.flask, ROUTE, input_stream=Broken(), **request)
    assert flask.status.startswith("400 ")
    assert hot == flask and len(flask_calls) == 2


def test_other_methods_and_paths_go_to_flask(app, keys, flask_calls):
    auth = bearer(keys, "router")
    for method, path in (("GET", ROUTE), ("PUT", ROUTE), ("POST", ROUTE + "/")):
        hot, flask = both(app, path, method=method, body=ROUTE_BODY, auth=auth)
        assert hot == flask and hot.status[:3] in ("405", "404", "308")
    assert len(flask_calls) == 6


# -- errors of the engine: served by the hot path, rendered by Flask's handlers --------------------


def test_unknown_agent_is_flasks_404(app, keys, flask_calls):
    body = json.dumps({"agent_id": "nobody"}).encode()
    hot, flask = both(app, ROUTE, body=body, auth=bearer(keys, "router"))
    assert flask.status == "404 NOT FOUND" and flask.json()["instance"] == ROUTE
    assert hot == flask
    assert flask_calls == [ROUTE]  # only the call made to Flask itself


def test_outcome_of_an_unknown_decision_is_flasks_404(app, keys, flask_calls):
    path = outcome_path(UNKNOWN_DECISION)
    hot, flask = both(app, path, body=OUTCOME_BODY, auth=bearer(keys, "admin"))
    assert flask.status == "404 NOT FOUND" and hot == flask
    assert flask_calls == [path]


def test_second_outcome_is_flasks_409(app, api, keys, catalog, flask_calls):
    path = outcome_path(route_decision(api)["decision_id"])
    assert api.post(path, json.loads(OUTCOME_BODY), role="router").status_code == 201
    hot, flask = both(app, path, body=OUTCOME_BODY, auth=bearer(keys, "router"))
    assert flask.status == "409 CONFLICT" and hot == flask
    assert flask_calls == [path]


def test_writer_refusing_rows_is_flasks_503_with_retry_after(app, keys, catalog, flask_calls):
    app.extensions["services"].writer.stop()  # it refuses new rows from now on (ShuttingDown)
    hot, flask = both(app, ROUTE, body=ROUTE_BODY, auth=bearer(keys, "router"))
    assert flask.status == "503 SERVICE UNAVAILABLE" and flask.header("Retry-After") == "1"
    assert hot == flask
    assert flask_calls == [ROUTE]


# -- successes -------------------------------------------------------------------------------------


def _assert_same_shape(hot: Answer, flask: Answer, status: str) -> None:
    assert hot.status == flask.status == status
    assert [name for name, _ in hot.headers] == [name for name, _ in flask.headers]
    assert hot.header("Content-Type") == flask.header("Content-Type") == JSON
    for answer in (hot, flask):
        assert answer.header("Content-Length") == str(len(answer.body))
        assert answer.header("X-Request-Id") == TRACE
        compact = json.dumps(answer.json(), separators=(",", ":")) + "\n"
        assert answer.body == compact.encode()  # Flask's JSON: compact, keys in order, newline
    hot_body, flask_body = hot.json(), flask.json()
    assert list(hot_body) == list(flask_body)
    assert {k: type(v) for k, v in hot_body.items()} == {k: type(v) for k, v in flask_body.items()}


def test_route_is_answered_as_flask_answers_it(app, keys, catalog, flask_calls):
    hot, flask = both(app, ROUTE, body=ROUTE_BODY, auth=bearer(keys, "router"))
    _assert_same_shape(hot, flask, "200 OK")
    assert hot.json()["decision_id"] != flask.json()["decision_id"]
    assert flask_calls == [ROUTE]


def test_outcome_is_answered_as_flask_answers_it(app, api, keys, catalog, flask_calls):
    first, second = (outcome_path(route_decision(api)["decision_id"]) for _ in range(2))
    auth, headers = bearer(keys, "router"), {"X-Request-Id": TRACE}
    hot = call(app.wsgi_app, first, body=OUTCOME_BODY, auth=auth, headers=headers)
    flask = call(app.wsgi_app.flask, second, body=OUTCOME_BODY, auth=auth, headers=headers)
    _assert_same_shape(hot, flask, "201 CREATED")
    assert hot.json()["outcome"] == flask.json()["outcome"] | {
        "recorded_at": hot.json()["outcome"]["recorded_at"]
    }
    assert flask_calls == [second]


def test_clean_requests_never_reach_flask(api, catalog, flask_calls):
    for _ in range(3):
        decision = route_decision(api)
    outcome = {"success": True, "latency_ms": 50.0}
    path = outcome_path(decision["decision_id"])
    assert api.post(path, outcome, role="admin").status_code == 201
    assert flask_calls == []


def test_debug_mode_goes_to_flask(app, keys, catalog, flask_calls):
    app.debug = True
    answer = call(app.wsgi_app, ROUTE, body=ROUTE_BODY, auth=bearer(keys, "router"))
    assert answer.status == "200 OK" and b'\n  "decision_id"' in answer.body  # indented
    assert flask_calls == [ROUTE]


# -- metrics, request ids, logs --------------------------------------------------------------------


def _samples(api) -> dict:
    text = api.get("/metrics", role="viewer").get_data(as_text=True)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _http(name: str, rule: str, status: int) -> tuple:
    labels = (("method", "POST"), ("route", rule), ("status", str(status)))
    return (f"model_router_http_{name}", labels)


def test_metrics_count_hot_path_requests(api, catalog, flask_calls):
    decisions = [route_decision(api) for _ in range(3)]
    outcome = {"success": True, "latency_ms": 80.0}
    assert (
        api.post(outcome_path(decisions[0]["decision_id"]), outcome, role="router").status_code
        == 201
    )
    assert api.post(ROUTE, {"agent_id": "nobody"}, role="router").status_code == 404
    assert flask_calls == []
    samples = _samples(api)
    rule = "/api/v1/decisions/<decision_id>/outcome"
    assert samples[_http("requests_total", ROUTE, 200)] == 3
    assert samples[_http("request_duration_seconds_count", ROUTE, 200)] == 3
    assert samples[_http("requests_total", ROUTE, 404)] == 1  # the error path's hooks
    assert samples[_http("request_duration_seconds_count", ROUTE, 404)] == 1
    assert samples[_http("requests_total", rule, 201)] == 1
    counted = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "model_router_route_decisions_total"
    }
    assert sum(counted.values()) == 3
    for decision in decisions:
        labels = (("model_id", decision["model_id"]), ("strategy", decision["strategy"]))
        assert counted[labels] >= 1


@pytest.mark.parametrize(
    "given,echoed",
    [(TRACE, True), (None, False), ("bad id <script>", False), ("x" * 65, False)],
)
def test_request_id_is_echoed_when_well_formed(app, keys, catalog, given, echoed):
    headers = {} if given is None else {"X-Request-Id": given}
    auth = bearer(keys, "router")
    ids = [
        call(app.wsgi_app, ROUTE, body=ROUTE_BODY, auth=auth, headers=headers).header(
            "X-Request-Id"
        )
        for _ in range(2)
    ]
    if echoed:
        assert ids == [given, given]
    else:
        assert all(FRESH_ID.fullmatch(request_id) for request_id in ids) and ids[0] != ids[1]


class _Lines(logging.Handler):
    """(request id, message) of every record, through the app's RequestIdFilter."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.addFilter(RequestIdFilter())
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.request_id, record.getMessage()))


def test_log_lines_of_a_hot_request_carry_its_request_id(api, catalog, flask_calls):
    decision = route_decision(api)
    lines = _Lines()
    root = logging.getLogger()
    root.addHandler(lines)
    try:
        response = api.post(
            outcome_path(decision["decision_id"]),
            {"success": False, "latency_ms": 10.0, "error_code": "timeout"},
            role="router",
            headers={"X-Request-Id": "trace-cool-1"},
        )
        logging.getLogger("tests.hot_path").warning("after the request")
    finally:
        root.removeHandler(lines)
    assert response.status_code == 201 and flask_calls == []
    cooled = f"model {decision['model_id']} cooled down"
    assert any(rid == "trace-cool-1" and cooled in text for rid, text in lines.lines), lines.lines
    assert lines.lines[-1] == ("-", "after the request")  # the id ends with its request


def test_every_request_hook_is_replicated_by_the_hot_path(app):
    """A before/after/teardown hook added to the app, or to the blueprints of route and outcome,
    must be listed in REPLICATED_HOOKS with what the hot path does in its place."""
    from app.api.hot_path import REPLICATED_HOOKS

    blueprints = {
        rule.endpoint.rpartition(".")[0]
        for rule in app.url_map.iter_rules()
        if rule.rule in ("/api/v1/route", "/api/v1/decisions/<decision_id>/outcome")
    }
    assert blueprints, "the hot endpoints are not in the URL map"
    hooks = set()
    for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for scope in (None, *blueprints):
            hooks |= {f"{f.__module__}.{f.__qualname__}" for f in registry.get(scope, [])}
    assert hooks - set(REPLICATED_HOOKS) == set()
    assert "app.api.auth.enforce" in hooks  # the collection sees the real hooks
