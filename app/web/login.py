"""GET/POST /login (paste an API key, get a session cookie) and POST /logout."""

from __future__ import annotations

import logging

from flask import redirect, render_template, request, url_for

from app.web import security
from app.web.blueprint import bp

log = logging.getLogger(__name__)
MAX_KEY_LENGTH = 512


@bp.get("/login")
def login():
    if security.current_role() is not None:
        return redirect(security.safe_next(request.args.get("next")))
    return render_template("web/login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_submit():
    security.check_csrf()
    next_url = request.form.get("next", "")
    presented = request.form.get("api_key", "").strip()
    identity = security.identify_key(presented) if 0 < len(presented) <= MAX_KEY_LENGTH else None
    if identity is None:
        log.warning("dashboard login refused: unknown or revoked key from %s", request.remote_addr)
        return _form_again(next_url, "That API key is not valid.", 401)
    key_id, role = identity
    if role not in security.DASHBOARD_ROLES:
        log.warning("dashboard login refused: key %s has role %s", key_id, role)
        return _form_again(
            next_url,
            f"This key has the {role} role; the dashboard needs a viewer or admin key.",
            403,
        )
    security.start_session(key_id, role)
    log.info("dashboard login: key %s (%s)", key_id, role)
    return redirect(security.safe_next(next_url))


@bp.post("/logout")
def logout():
    security.check_csrf()
    security.end_session()
    return redirect(url_for("web.login"))


def _form_again(next_url: str, error: str, status: int):
    return render_template("web/login.html", next=next_url, error=error), status
