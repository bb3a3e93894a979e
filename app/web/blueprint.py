"""The `web` blueprint: its static files, error pages and response headers.

Routes live in `login`, `pages` and `data_api`, which decorate this blueprint; register_web imports
them. Errors raised by dashboard views render an HTML page, except under /dashboard/api/ where the
chart scripts expect problem+json (a 401 there sends the script to /login).
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from werkzeug.exceptions import HTTPException

from app.db import errors as dberrors
from app.problems import Problem, problem_response
from app.web import formatting, security

log = logging.getLogger(__name__)

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)
API_PREFIX = "/dashboard/api/"

NAV = (
    ("web.overview", "Overview"),
    ("web.models", "Models"),
    ("web.assignments", "Assignments"),
    ("web.decisions", "Decisions"),
    ("web.alerts", "Alerts"),
)

# After every request of the app, not only the blueprint's: a 404 under /dashboard/ is a
# dashboard response too.
bp.after_app_request(security.add_security_headers)
bp.add_app_template_filter(formatting.fmt, "fmt")


@bp.context_processor
def _template_globals() -> dict:
    return {
        "csrf_token": security.csrf_token,
        "role": security.current_role(),
        "nav": NAV,
        "csrf_field": security.CSRF_FIELD,
        "can_acknowledge": security.can_acknowledge,
    }


def _error(status: int, title: str, detail: str, headers: dict | None = None):
    if request.path.startswith(API_PREFIX):
        return problem_response(status, title, detail, headers=headers)
    body = render_template("web/error.html", status=status, title=title, detail=detail)
    return body, status, headers or {}


@bp.errorhandler(Problem)
def _problem(exc: Problem):
    return _error(exc.status, exc.title, exc.detail, exc.headers)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return _error(exc.code or 500, exc.name, exc.description or exc.name)


@bp.errorhandler(dberrors.DatabaseUnavailable)
@bp.errorhandler(dberrors.TransientError)
def _unavailable(exc: dberrors.DatabaseError):
    log.warning(
        "dashboard: database unavailable for %s %s: %s",
        request.method,
        request.path,
        type(exc).__name__,
    )
    return _error(
        503,
        "Service unavailable",
        "the database is unavailable; retrying shortly",
        {"Retry-After": "5"},
    )


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("dashboard: unhandled error on %s %s", request.method, request.path)
    return _error(500, "Internal Server Error", "an unexpected error occurred")
