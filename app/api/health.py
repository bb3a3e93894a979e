"""Liveness and readiness probes; open to everyone (no key)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    ok, detail = current_app.extensions["services"].ready()
    return jsonify(status="ready" if ok else "unavailable", **detail), (200 if ok else 503)
