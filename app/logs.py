"""Logging set-up: plain or JSON lines, each with the request id when there is one."""

from __future__ import annotations

import json
import logging
import time

from flask import g, has_request_context


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
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
    """Every response carries X-Request-Id (the caller's, when well-formed, else a new one)."""
    import re
    import uuid

    from flask import request

    well_formed = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

    @app.before_request
    def _assign_request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if well_formed.match(given) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        response.headers["X-Request-Id"] = g.get("request_id", "-")
        return response
