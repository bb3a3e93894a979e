"""HTTP API: one blueprint per resource, registered by create_app, plus the request hooks that
time every request (app.api.metrics) and check the caller's key and role (app.api.auth)."""

from __future__ import annotations

from flask import Flask

BLUEPRINTS = (
    "models",
    "agents",
    "scores",
    "assignments",
    "route",
    "decisions",
    "outcomes",
    "analytics",
    "load",
    "alerts",
    "system",
    "keys",
    "metrics",
    "openapi",
)


def register_api(app: Flask) -> None:
    from importlib import import_module

    from app.api import auth, metrics
    from app.api.health import bp as health

    metrics.install(app)  # first: its timer wraps the auth check too
    auth.install(app)
    app.register_blueprint(health)
    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f"app.api.{name}").bp)
