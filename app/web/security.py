"""Dashboard access: session login by API key, roles, CSRF tokens and security headers.

A person pastes an API key once at /login; the key is verified (hashed comparison in app.api.auth)
and never stored: the signed session cookie holds a session id, the key id, its role and a CSRF
token. The session is also a row of DASHBOARD_SESSIONS (keyed by the SHA-256 of its id), read on
each request: logging out ends it on the server, so a copied cookie stops working at once
(before, a signed cookie stayed valid until its 12 h expiry whatever the logout). Pages need
the viewer or admin role; a router-only key is refused. Every POST form carries the session's CSRF
token, compared in constant time. Every dashboard response carries a strict Content-Security-Policy
(no inline script or style, nothing from other origins), so the pages work offline and an injected
tag cannot run.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from functools import wraps
from urllib.parse import urlsplit

from flask import Response, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from app.db import errors as dberrors
from app.db import store
from app.problems import Forbidden, Unauthorized

log = logging.getLogger(__name__)

DASHBOARD_ROLES = frozenset({"viewer", "admin"})
ACK_ROLES = frozenset({"admin"})
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class DashboardSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with the Secure flag set whenever the request came over TLS.

    A fixed SESSION_COOKIE_SECURE would either break plain-HTTP development or send the cookie
    in clear in production; TLS terminated by a proxy is recognised by X-Forwarded-Proto (trusting
    it can only make the cookie stricter).
    """

    # The API authenticates every request by its bearer key and never reads the session:
    # skipping the cookie there saves its signature check and serialisation per request.
    _SESSIONLESS = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json")

    def open_session(self, app, request):
        if request.path.startswith(self._SESSIONLESS):
            return None  # Flask substitutes a null session, which is never saved
        return super().open_session(app, request)

    def get_cookie_secure(self, app) -> bool:
        if app.config.get("SESSION_COOKIE_SECURE"):
            return True
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return request.is_secure or forwarded == "https"


# -- login state -------------------------------------------------------------------------------


SESSION_FIELD = "sid"


def _stored_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(key_id: str, role: str) -> None:
    """Begin a fresh session for a verified key (drops whatever the old cookie held)."""
    session_id = secrets.token_urlsafe(32)
    store.open_dashboard_session(
        _db(), _stored_id(session_id), key_id, current_app.permanent_session_lifetime
    )
    session.clear()
    session.permanent = True
    session[SESSION_FIELD] = session_id
    session["key_id"] = key_id
    session["role"] = role
    session[CSRF_FIELD] = secrets.token_urlsafe(32)
    g.dashboard_role = role


def end_session() -> None:
    """End the session on the server (its cookie is worthless from now on) and clear it."""
    session_id = session.get(SESSION_FIELD)
    if session_id:
        store.end_dashboard_session(_db(), _stored_id(session_id))
    session.clear()
    g.pop("dashboard_role", None)


def _db():
    return current_app.extensions["services"].db


def current_role() -> str | None:
    """The session's role if it may use the dashboard and it is still open, else None.

    The session and its key are read by id on each request (the key itself is never in the
    cookie), so a logout, a revoked or a re-roled key ends the session at once. If the database
    cannot answer, the signed session stands for this request: the pages then fail on their own
    reads with a 503 page, and an outage does not log operators out of the dashboard they are
    watching it on.
    """
    if "dashboard_role" in g:
        return g.dashboard_role
    role = session.get("role")
    if role not in DASHBOARD_ROLES:
        role = None
    elif not _still_open(session.get(SESSION_FIELD), session.get("key_id"), role):
        log.warning(
            "dashboard session of key %s ended: logged out, expired, or key revoked or changed",
            session.get("key_id"),
        )
        session.clear()
        role = None
    g.dashboard_role = role
    return role


def _still_open(session_id: str | None, key_id: str | None, role: str) -> bool:
    if not session_id or not key_id:
        return False
    try:
        row = store.get_dashboard_session(_db(), _stored_id(session_id))
    except dberrors.DatabaseError as exc:
        log.warning(
            "dashboard: cannot check the session of key %s (%s); kept for this request",
            key_id,
            type(exc).__name__,
        )
        return True
    return (
        row is not None
        and row["key_id"] == key_id
        and not row.get("revoked_at")
        and row.get("role") == role
    )


def can_acknowledge() -> bool:
    """Acknowledging alerts needs admin, as POST /api/v1/alerts/{id}/ack does."""
    return current_role() in ACK_ROLES


def current_key_id() -> str | None:
    return session.get("key_id") if current_role() is not None else None


def page_login_required(view):
    """HTML views: no dashboard session -> redirect to /login (back here afterwards)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_role() is None:
            return redirect(url_for("web.login", next=_local_path()))
        return view(*args, **kwargs)

    return wrapper


def api_login_required(view):
    """JSON views: no dashboard session -> 401 problem+json (the script then goes to /login)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_role() is None:
            raise Unauthorized("log in at /login to read the dashboard")
        return view(*args, **kwargs)

    return wrapper


def _local_path() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after login (no open redirect).

    Browsers and Werkzeug drop tabs and newlines from a Location ("/\t/evil" becomes
    "//evil", another site), so any control character or space refuses the target, and what
    remains must parse as a path with no scheme and no host.
    """
    fallback = url_for("web.overview")
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return fallback
    if any(ch <= " " or ch == "\x7f" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def identify_key(presented: str) -> tuple[str, str] | None:
    """(key id, role) of a valid, unrevoked API key, else None: app.api.auth does the checking."""
    from app.api import auth

    services = current_app.extensions["services"]
    return auth.verify_key(services, presented)


# -- CSRF ----------------------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token, created on first use (the login form needs one before login)."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a POST whose form token is missing or differs from the session's (403)."""
    expected = session.get(CSRF_FIELD, "")
    presented = request.form.get(CSRF_FIELD, "")
    if (
        not expected
        or not presented
        or not hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))
    ):
        log.warning("dashboard CSRF check failed on %s %s", request.method, request.path)
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page and retry")


# -- headers -------------------------------------------------------------------------------------


DASHBOARD_PATHS = ("/", "/login", "/logout")


def is_dashboard_path(path: str) -> bool:
    return path in DASHBOARD_PATHS or path.startswith("/dashboard/")


def add_security_headers(response: Response) -> Response:
    if request.blueprint != "web" and not is_dashboard_path(request.path):
        return response
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if request.endpoint != "web.static":
        # Pages and JSON hold operational data: never cached by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
    return response
