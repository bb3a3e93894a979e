"""Operations dashboard: server-rendered pages over the database views, charts in the browser.

`register_web(app)` is called once by create_app. It sets the session signing key (setting
`auth.secret_key`, random per start when empty: sessions then end with the process), the session
cookie policy and registers the `web` blueprint. Modules: `security` (session login, CSRF, response
headers), `pages` (HTML), `data_api` (JSON for the charts), `queries` (the reads, through store
functions and named queries only), `blueprint` (the blueprint, its error pages and headers).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask

SESSION_COOKIE_NAME = "model_router_session"
SESSION_LIFETIME = timedelta(hours=12)


def register_web(app: Flask) -> None:
    """Attach the dashboard to `app` (idempotent)."""
    if "web" in app.blueprints:
        return
    from app.web import data_api, login, pages  # noqa: F401  (their routes join the blueprint)
    from app.web.blueprint import bp
    from app.web.security import DashboardSessionInterface

    secret = _secret_key(app)
    app.secret_key = secret
    app.session_interface = DashboardSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.register_blueprint(bp)


def _secret_key(app: Flask) -> bytes:
    services = app.extensions.get("services")
    settings = getattr(services, "config", None)
    configured = settings["auth.secret_key"] if settings is not None else None
    if configured:
        return configured.reveal().encode("utf-8")
    # Random per start: a restart logs everyone out, which is the safe default for one host.
    return secrets.token_bytes(32)
