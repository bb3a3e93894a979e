"""Roles on every route: `Authorization: Bearer mr_<key id>_<secret>` checked against the
declared access level of the matched endpoint (the keys themselves: app.keys).

Every view declares an access level (`requires` or `app.api.operations.operation`):

- open: no key (probes, /openapi.json)
- admin: admin only (catalog writes, assignments, keys)
- router: router or admin (route, outcomes)
- viewer: viewer or admin (analytics, load, alerts, /metrics, system figures)
- reader: any valid key (catalog reads the router needs: models, agents, assignments, decisions)
- session: the dashboard's own session login (app.web.security)

A view with no declaration is treated as admin-only (fail closed); a test enumerates the URL map.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app, g, request

from app.keys import KeyRing, Principal
from app.problems import Forbidden, Unauthorized

log = logging.getLogger(__name__)

ACCESS: dict[str, frozenset[str] | None] = {
    "open": None,
    "session": None,
    "admin": frozenset({"admin"}),
    "router": frozenset({"admin", "router"}),
    "viewer": frozenset({"admin", "viewer"}),
    "reader": frozenset({"admin", "router", "viewer"}),
}
# Endpoints of other modules that are open by design: probes and Flask's static files.
OPEN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "static"})
# Blueprints that guard their own views (the dashboard's session login).
SELF_GUARDED_BLUEPRINTS = frozenset({"web"})

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="model-router"'}


def requires(level: str) -> Callable:
    """Declare the access level of a view (see the module docstring)."""
    if level not in ACCESS:
        raise ValueError(f"unknown access level {level!r}")

    def mark(view):
        view.access = level
        return view

    return mark


def access_of(app: Flask, endpoint: str | None) -> str | None:
    """The declared level of an endpoint; None when it declares none."""
    if endpoint in OPEN_ENDPOINTS:
        return "open"
    view = app.view_functions.get(endpoint) if endpoint else None
    level = getattr(view, "access", None)
    if level is None and endpoint and endpoint.split(".", 1)[0] in SELF_GUARDED_BLUEPRINTS:
        return "session"
    return level


def keyring(app: Flask | None = None) -> KeyRing:
    return (app or current_app).extensions["api_keys"]


def verify_key(services, presented: str) -> tuple[str, str] | None:
    """(key id, role) of a valid, unrevoked key, else None (used by the dashboard login)."""
    ring = current_app.extensions.get("api_keys") or KeyRing(services.db)
    principal = ring.verify(presented)
    return (principal.key_id, principal.role) if principal else None


# -- the request hook ------------------------------------------------------------------------------


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authenticate() -> Principal:
    """The caller's principal from the Authorization header; raises 401 problem."""
    token = _bearer()
    if token is None:
        raise Unauthorized("send an API key: Authorization: Bearer <key>", headers=dict(_CHALLENGE))
    principal = keyring().verify(token)
    if principal is None:
        raise Unauthorized(
            "the API key is not valid or has been revoked",
            headers={
                "WWW-Authenticate": _CHALLENGE["WWW-Authenticate"] + ', error="invalid_token"'
            },
        )
    return principal


def enforce() -> None:
    """before_request: check the declared access level of the matched endpoint.

    Unmatched URLs fall through to Flask's 404/405. Endpoints without a declaration need admin.
    """
    if request.endpoint is None or request.method == "OPTIONS":
        return
    level = access_of(current_app, request.endpoint)
    if level in ("open", "session"):
        return
    if level is None:
        log.warning("endpoint %s declares no access level; admin only", request.endpoint)
        level = "admin"
    principal = authenticate()
    g.principal = principal
    if principal.role not in ACCESS[level]:
        needed = " or ".join(sorted(ACCESS[level]))
        raise Forbidden(f"this operation needs the {needed} role; the key has {principal.role}")


def install(app: Flask) -> None:
    services = app.extensions["services"]
    app.extensions["api_keys"] = KeyRing(services.db, stale_s=services.config["auth.key_stale_s"])
    app.before_request(enforce)
