"""What the API views reach through the app: the Services container and its engine."""

from __future__ import annotations

from flask import current_app


def services():
    return current_app.extensions["router"]


def engine():
    return current_app.extensions["router"].engine


def db():
    return current_app.extensions["router"].db
