"""Model Router: decides which LLM model serves each request of each agent.

`create_app(config=None)` builds everything (settings, database pool, router, background loops);
nothing happens when this package is imported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app: defaults < config file < environment < `config` (dotted names)."""
    from app import redirects
    from app.api.hot_path import HotPath
    from app.config import load_config
    from app.logs import configure_logging, install_request_ids
    from app.problems import register_error_handlers
    from app.services import Services

    settings = load_config(config)
    configure_logging(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings["api.max_body_bytes"]
    app.json.sort_keys = False
    services = Services.build(settings)
    app.extensions["services"] = services
    register_error_handlers(app)
    redirects.install(app, settings["server.public_url"])
    install_request_ids(app)
    _register_blueprints(app)
    # after the routes (it reads their declarations), before any thread starts
    app.wsgi_app = HotPath(app, app.wsgi_app)
    services.start()
    return app


def _register_blueprints(app: Flask) -> None:
    from app.api import register_api
    from app.web import register_web

    register_api(app)
    register_web(app)
