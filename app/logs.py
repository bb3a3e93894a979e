"""Logging set-up: plain or JSON lines, each with the request id when there is one.

The request id lives in a context variable rather than in flask.g, so that the lines of requests
served without a Flask request context (app.api.hot_path) carry it too.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar, Token

from flask import g

_WELL_FORMED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_request_id: ContextVar[str] = ContextVar("request_id", default="-")


def request_id_for(given: str | None) -> str:
    """The caller's X-Request-Id when it is well-formed, else a new one.

    fullmatch, not `^...$`: `$` also matches before a final newline, and a header value with a
    newline cannot be echoed (Werkzeug refuses it, which turned the request into a 500).
    """
    return given if given and _WELL_FORMED_ID.fullmatch(given) else uuid.uuid4().hex


def bind_request_id(request_id: str) -> Token:
    """Make `request_id` the one log lines carry until `unbind_request_id(token)`."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token) -> None:
    _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


_HANDLER_NAME = "model-router"


def configure_cli_logging() -> None:
    """Plain lines for the CLI's own messages; `serve` then replaces this same handler with the
    app's (configure_logging), so no line is printed twice."""
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)


def configure_logging(config) -> None:
    """Install one handler on the root logger (idempotent: app factories run many times)."""
    root = logging.getLogger()
    root.setLevel(config["log.level"])
    for handler in list(root.handlers):  # ours, from an earlier app or the CLI
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    if config["log.json"]:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    root.addHandler(handler)
    # yoyo logs every migration step at INFO; our deploy step logs one summary line instead
    logging.getLogger("yoyo").setLevel(max(logging.WARNING, root.level))


def install_request_ids(app) -> None:
    """Every response carries X-Request-Id (the caller's, when well-formed, else a new one), and
    the request's log lines carry it from its before_request hook to the teardown."""
    from flask import request

    @app.before_request
    def _assign_request_id() -> None:
        g.request_id = request_id_for(request.headers.get("X-Request-Id"))
        g.request_id_token = bind_request_id(g.request_id)

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "-")
        return response

    @app.teardown_request
    def _release_request_id(_exc) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            unbind_request_id(token)
