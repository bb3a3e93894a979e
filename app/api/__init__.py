"""HTTP API: one blueprint per resource, registered by create_app."""

from __future__ import annotations

from flask import Flask


def register_api(app: Flask) -> None:
    from app.api.health import bp as health

    app.register_blueprint(health)
