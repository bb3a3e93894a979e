"""JSON for the dashboard's charts and live tables: /dashboard/api/<page>.

Same session as the pages (viewer or admin); no session is a 401 problem+json. The bodies are the
same dicts the pages render (app.web.queries), so a page and its refresh never disagree.
"""

from __future__ import annotations

from flask import current_app, jsonify, request

from app.web import queries, security
from app.web.blueprint import bp


def _services():
    return current_app.extensions["services"]


@bp.get("/dashboard/api/overview")
@security.api_login_required
def api_overview():
    return jsonify(queries.overview(_services()))


@bp.get("/dashboard/api/models")
@security.api_login_required
def api_models():
    return jsonify(queries.models(_services()))


@bp.get("/dashboard/api/assignments")
@security.api_login_required
def api_assignments():
    return jsonify(queries.assignments(_services()))


@bp.get("/dashboard/api/decisions")
@security.api_login_required
def api_decisions():
    search = queries.DecisionSearch.from_args(request.args)
    return jsonify(queries.decisions(_services(), search))


@bp.get("/dashboard/api/alerts")
@security.api_login_required
def api_alerts():
    return jsonify(queries.alerts(_services()))
