"""The dashboard's HTML pages: overview, models, assignments, decisions, alerts.

Each page renders its tables on the server from the same reads its JSON endpoint serves
(app.web.queries), so it is useful before any script runs; app/web/static/js/dashboard.js then
draws the charts and refreshes them every few seconds from /dashboard/api/<page>.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from app.problems import Forbidden
from app.web import queries, security
from app.web.blueprint import bp

REFRESH_MS = 5000


def _services():
    return current_app.extensions["services"]


def _page(template: str, source: str, **context):
    return render_template(
        f"web/{template}", source=url_for(source), refresh_ms=REFRESH_MS, **context
    )


@bp.get("/")
@security.page_login_required
def overview():
    return _page("overview.html", "web.api_overview", data=queries.overview(_services()))


@bp.get("/dashboard/")
def dashboard_root():
    return redirect(url_for("web.overview"))


@bp.get("/dashboard/models")
@security.page_login_required
def models():
    return _page("models.html", "web.api_models", data=queries.models(_services()))


@bp.get("/dashboard/assignments")
@security.page_login_required
def assignments():
    return _page("assignments.html", "web.api_assignments", data=queries.assignments(_services()))


@bp.get("/dashboard/decisions")
@security.page_login_required
def decisions():
    search = queries.DecisionSearch.from_args(request.args)
    data = queries.decisions(_services(), search)
    return render_template(
        "web/decisions.html", data=data, search=search, strategies=queries.STRATEGY_CHOICES
    )


@bp.get("/dashboard/alerts")
@security.page_login_required
def alerts():
    return _page("alerts.html", "web.api_alerts", data=queries.alerts(_services()))


@bp.post("/dashboard/alerts/<alert_id>/ack")
@security.page_login_required
def acknowledge_alert(alert_id: str):
    security.check_csrf()
    if not security.can_acknowledge():
        raise Forbidden("acknowledging alerts needs an admin key")
    if queries.acknowledge_alert(_services(), alert_id, security.current_key_id()):
        flash(f"Alert {alert_id} acknowledged.", "ok")
    else:
        flash(f"Alert {alert_id} is not open (already acknowledged or resolved).", "warn")
    return redirect(url_for("web.alerts"), code=303)
