"""The `web` blueprint: its static files, error pages and response headers.

Routes live in `login`, `pages` and `data_api`, which decorate this blueprint; register_web imports
them. Errors raised by dashboard views render an HTML page, except under /dashboard/api/ where the
chart scripts expect problem+json (a 401 there sends the script to /login).
"""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request

from app.problems import problem_response, to_problem
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


@bp.errorhandler(Exception)
def _render(exc: Exception):
    """The app's one mapping (app.problems.to_problem), as a page, or as problem+json under
    /dashboard/api/ where the chart scripts expect it."""
    problem = to_problem(exc)
    if request.path.startswith(API_PREFIX):
        return problem_response(
            problem.status, problem.title, problem.detail, problem.field_errors, problem.headers
        )
    body = render_template(
        "web/error.html", status=problem.status, title=problem.title, detail=problem.detail
    )
    return body, problem.status, problem.headers
