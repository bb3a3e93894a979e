"""The small set of exceptions the service raises, and the one handler that renders them.

API errors are application/problem+json (RFC 9457) with `errors[]` per field; the dashboard gets
an HTML page from its own blueprint. Database errors are mapped here, so a lost connection is a
503 with Retry-After and never a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

from app.db import errors as dberrors

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    status = 500
    title = "Internal Server Error"

    def __init__(
        self,
        detail: str = "",
        *,
        field_errors: list[dict] | None = None,
        headers: dict | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.field_errors = field_errors or []
        self.headers = headers or {}


class InvalidInput(Problem):
    status, title = 422, "Invalid input"


class BadRequest(Problem):
    status, title = 400, "Bad request"


class Unauthorized(Problem):
    status, title = 401, "Unauthorized"


class Forbidden(Problem):
    status, title = 403, "Forbidden"


class NotFound(Problem):
    status, title = 404, "Not found"


class Conflict(Problem):
    status, title = 409, "Conflict"


class PayloadTooLarge(Problem):
    status, title = 413, "Payload too large"


class _RetryLater(Problem):
    """A problem the client may retry unchanged after `retry_after` seconds (Retry-After)."""

    def __init__(self, detail: str = "", retry_after: int = 1, **kw) -> None:
        super().__init__(detail, **kw)
        self.headers.setdefault("Retry-After", str(retry_after))


class TooManyRequests(_RetryLater):
    status, title = 429, "Too many requests"


class Unavailable(_RetryLater):
    status, title = 503, "Service unavailable"


def problem_document(status: int, title: str, detail: str, instance: str) -> dict:
    """The problem+json body; also made outside Flask (app.front's 408)."""
    return {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }


def problem_response(
    status: int, title: str, detail: str, field_errors=None, headers=None
) -> Response:
    body = problem_document(status, title, detail, request.path)
    if field_errors:
        body["errors"] = field_errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


# One Retry-After for a database that cannot answer now, whoever asked (API or dashboard).
DATABASE_RETRY_AFTER_S = 1


def to_problem(exc: BaseException) -> Problem:
    """The one mapping from an exception to the problem answered for it (and its log line);
    rendered as problem+json by the app's handler and as a page by the dashboard's."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, HTTPException):
        headers = dict(exc.get_headers()) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        return _problem(exc.code or 500, exc.name, exc.description or exc.name, headers=headers)
    if isinstance(exc, dberrors.DatabaseUnavailable | dberrors.TransientError):
        log.warning(
            "database unavailable for %s %s: %s", request.method, request.path, type(exc).__name__
        )
        return Unavailable("the database is unavailable", retry_after=DATABASE_RETRY_AFTER_S)
    if isinstance(exc, dberrors.ValueTooLarge):
        # The column, never the value: a column narrower than the API's limit is our defect,
        # but the client learns which field to shorten and nothing is stored.
        field = exc.column.lower() or "body"
        log.error("value too large for column %s on %s %s", field, request.method, request.path)
        return InvalidInput(
            f"a value is too long to be stored: {field}",
            field_errors=[{"field": field, "reason": "value too long to be stored"}],
        )
    if isinstance(exc, dberrors.ProcedureError):
        from app.db.store import PROCEDURE_ERRORS

        status, title = PROCEDURE_ERRORS.get(exc.code, (500, "Internal Server Error"))
        if status != 500:
            return _problem(status, title[:1].upper() + title[1:], exc.message)
        log.error("procedure error %s on %s %s", exc.code, request.method, request.path)
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)
    return _problem(500, "Internal Server Error", "an unexpected error occurred")


def _problem(status: int, title: str, detail: str, headers: dict | None = None) -> Problem:
    problem = Problem(detail, headers=headers)
    problem.status, problem.title = status, title
    return problem


def register_error_handlers(app: Flask) -> None:
    """Every error of the app answers problem+json (the dashboard's blueprint renders the same
    problems as pages, app.web.blueprint)."""

    @app.errorhandler(Exception)
    def _render(exc: Exception):
        problem = to_problem(exc)
        return problem_response(
            problem.status, problem.title, problem.detail, problem.field_errors, problem.headers
        )
