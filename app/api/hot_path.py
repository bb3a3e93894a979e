"""HotPath: POST /api/v1/route and POST /api/v1/decisions/{id}/outcome served without Flask.

Why: these two requests are nearly all of the traffic, and under the GIL their throughput is their
CPU per request, about a third of which is Flask and Werkzeug building request and response
objects. HotPath is a WSGI middleware in front of Flask's wsgi_app (installed by create_app); it
answers a *clean* request itself and passes everything else to Flask untouched.

How the answers stay exactly Flask's:

- Before the engine is called, any check that fails or raises sends the request to Flask with its
  body put back (401, 403, 413, 415, 400, 422 are Flask's to give). Nothing has happened yet, so
  this is exact.
- Once the engine is called, its errors are answered by Flask's own error handlers and
  after-request hooks, in a request context of this request; the engine is never called twice.
- A success replicates what the views, the JSON provider and the hooks do: `count_decision`,
  `app.json.dumps` + newline (DefaultJSONProvider.response), the request counter and latency of
  the URL rule (app.api.metrics), X-Request-Id (app.logs). The dashboard's security headers
  (app.web.security) do not apply to /api paths, so there are none to add.

Not replicated: Flask's request_started / request_finished signals (nothing here listens to them)
and the test client's context preservation (`with client:`). In debug mode every request goes to
Flask (its JSON is indented then, and speed does not matter).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from flask import Flask, g

from app.api import auth
from app.api.operations import operation_of
from app.api.schemas import UUID_PATTERN
from app.api.validation import parse_json
from app.logs import bind_request_id, request_id_for, unbind_request_id

ROUTE_ENDPOINT = "route.route"
OUTCOME_ENDPOINT = "outcomes.record_outcome"
# fullmatch: the views' `match` would also take an id followed by a newline; Flask answers those
_DECISION_ID = re.compile(UUID_PATTERN)


# Every request hook of the app (and of the hot endpoints' blueprints), by module and name, and
# what the hot path does in its place: tests/test_hot_path.py fails when a hook is added that is
# not listed here, so a new hook cannot silently skip the two busiest requests.
REPLICATED_HOOKS = {
    "app.api.metrics._start_timer": "`started` taken before anything else",
    "app.logs.install_request_ids.<locals>._assign_request_id": "bind_request_id",
    "app.api.auth.enforce": "the endpoint's access level checked before the engine is called",
    "app.logs.install_request_ids.<locals>._echo_request_id": "the X-Request-Id header",
    "app.api.metrics._observe": "the URL rule's counter and latency histogram",
    "app.redirects.install.<locals>._own_location": "nothing: route and outcome answer no Location",
    "app.web.security.add_security_headers": "nothing: it adds headers to dashboard paths only",
    "app.logs.install_request_ids.<locals>._release_request_id": "unbind_request_id",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One served endpoint, everything about it looked up once."""

    rule: str  # the URL rule, also the `route` label of the request metrics
    model: Any  # the pydantic model of the body
    roles: frozenset[str]  # roles its declared access level allows
    status: str  # WSGI status line of success, e.g. "201 CREATED"
    counter: Any  # request counter and latency histogram of (POST, rule, status)
    histogram: Any
    call: Callable


def _endpoint(app: Flask, name: str, call: Callable) -> Endpoint:
    """Read the endpoint's declaration (app.api.operations) so the two paths cannot drift."""
    spec = operation_of(app.view_functions[name])
    (rule,) = [rule.rule for rule in app.url_map.iter_rules(name)]
    counter, histogram = app.extensions["api_metrics"].children("POST", rule, str(spec.status))
    return Endpoint(
        rule=rule,
        model=spec.body,
        roles=auth.ACCESS[auth.access_of(app, name)],
        status=app.response_class(status=spec.status).status,
        counter=counter,
        histogram=histogram,
        call=call,
    )


class _Unreadable:
    """A request body that could not be read: Flask reading it meets the same error."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, *_args) -> bytes:
        raise self.error


class HotPath:
    """WSGI middleware: `app.wsgi_app = HotPath(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, flask_wsgi: Callable) -> None:
        self.app = app
        self.flask = flask_wsgi
        self._services = app.extensions["services"]  # its engine is read per request, as views do
        self._metrics = app.extensions["api_metrics"]
        self._keys = app.extensions["api_keys"]
        self._route = _endpoint(app, ROUTE_ENDPOINT, self._decide)
        self._outcome = _endpoint(app, OUTCOME_ENDPOINT, self._record_outcome)
        prefix, variable, suffix = self._outcome.rule.partition("<decision_id>")
        if not variable or "<" in prefix + suffix:
            raise ValueError(f"unexpected outcome rule {self._outcome.rule!r}")
        self._outcome_affixes = (prefix, suffix, len(prefix), -len(suffix))
        provider = app.json  # as DefaultJSONProvider.response does out of debug mode
        self._dumps = provider.dumps
        self._dump_args = {"indent": 2} if provider.compact is False else {"separators": (",", ":")}
        self._content_type = app.response_class(mimetype=provider.mimetype).headers["Content-Type"]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and not self.app.debug:
            path = environ.get("PATH_INFO", "")
            if path == self._route.rule:
                return self._serve(environ, start_response, self._route, None)
            prefix, suffix, start, end = self._outcome_affixes
            if path.startswith(prefix) and path.endswith(suffix):
                decision_id = path[start:end]
                if _DECISION_ID.fullmatch(decision_id):
                    return self._serve(environ, start_response, self._outcome, decision_id)
        return self.flask(environ, start_response)

    def _serve(self, environ, start_response, endpoint: Endpoint, decision_id: str | None):
        started = perf_counter()
        request_id = request_id_for(environ.get("HTTP_X_REQUEST_ID"))
        token = bind_request_id(request_id)
        try:
            admitted = self._admit(environ, endpoint)
            if admitted is not None:
                return self._answer(
                    environ, start_response, endpoint, decision_id, admitted, started, request_id
                )
        finally:
            unbind_request_id(token)
        return self.flask(environ, start_response)

    # -- the views' work --------------------------------------------------------------------------

    def _decide(self, body, _decision_id: str | None, principal) -> dict:
        """What app.api.route.route does."""
        decision = self._services.engine.route(
            body.agent_id, body.task_type, body.prompt_tokens, body.strategy, principal.key_id
        )
        self._metrics.count_decision(decision)
        return decision

    def _record_outcome(self, body, decision_id: str | None, _principal) -> dict:
        """What app.api.outcomes.record_outcome does once require_decision_id has passed."""
        return self._services.engine.record_outcome(decision_id, body.model_dump())

    # -- the checks ------------------------------------------------------------------------------

    def _admit(self, environ: dict, endpoint: Endpoint):
        """(principal, body, raw body) of a clean request, else None with the body put back.

        Clean: no query string, an application/json body of a stated length within
        MAX_CONTENT_LENGTH, a bearer key of a role the endpoint allows, a body that parses
        strictly and validates against the endpoint's model.
        """
        try:
            length = self._length(environ)
            principal = self._principal(environ, endpoint) if length else None
        except Exception:  # e.g. the key ring's database read failed: Flask answers that
            return None
        if principal is None:
            return None
        try:
            raw = environ["wsgi.input"].read(length)
        except Exception as exc:
            environ["wsgi.input"] = _Unreadable(exc)
            return None
        try:
            if len(raw) == length and raw.strip():  # Flask's empty-body rule
                return principal, endpoint.model.model_validate(parse_json(raw)), raw
        except Exception:  # invalid JSON or body: Flask makes the 400 or 422
            pass
        environ["wsgi.input"] = io.BytesIO(raw)
        return None

    def _length(self, environ: dict) -> int:
        """The body's length when the request is plain enough to serve, else 0."""
        if environ.get("QUERY_STRING") or "HTTP_TRANSFER_ENCODING" in environ:
            return 0
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        text = environ.get("CONTENT_LENGTH", "")
        if mimetype != "application/json" or not (text.isascii() and text.isdigit()):
            return 0
        length = int(text)
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        return length if limit is None or length <= limit else 0

    def _principal(self, environ: dict, endpoint: Endpoint):
        """The caller's principal when its key is valid and its role allowed (app.api.auth)."""
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        principal = self._keys.verify(token)
        return principal if principal is not None and principal.role in endpoint.roles else None

    # -- the answers -----------------------------------------------------------------------------

    def _answer(self, environ, start_response, endpoint, decision_id, admitted, started, rid):
        principal, body, raw = admitted
        in_view = True
        try:
            result = endpoint.call(body, decision_id, principal)
            in_view = False
            payload = f"{self._dumps(result, **self._dump_args)}\n".encode()
        except Exception as exc:
            environ["wsgi.input"] = io.BytesIO(raw)
            return self._answer_error(
                environ, start_response, exc, in_view, started=started, rid=rid, who=principal
            )
        endpoint.counter.inc()
        endpoint.histogram.observe(perf_counter() - started)
        headers = [
            ("Content-Type", self._content_type),
            ("Content-Length", str(len(payload))),
            ("X-Request-Id", rid),
        ]
        start_response(endpoint.status, headers)
        return [payload]

    def _answer_error(self, environ, start_response, exc, in_view, *, started, rid, who):
        """Answer `exc` as Flask's wsgi_app and full_dispatch_request would: the view's error
        goes to the registered error handlers, an error after the view (making the response)
        to handle_exception; the after-request hooks run either way.

        Called while `exc` is being handled, as Flask's handlers expect (log.exception).
        """
        app = self.app
        ctx = app.request_context(environ)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                # what the before_request hooks leave in g: app.api.metrics, app.logs, app.api.auth
                g.metrics_started = started
                g.request_id = rid
                g.principal = who
                if not in_view:
                    raise exc
                response = app.finalize_request(app.handle_user_exception(exc))
            except Exception as e:
                error = e
                response = app.handle_exception(e)
            except BaseException:
                error = sys.exc_info()[1]
                raise
            return response(environ, start_response)
        finally:
            if error is not None and app.should_ignore_error(error):
                error = None
            ctx.pop(error)
