"""What the API views reach through the app: the engine and the database of its Services."""

from __future__ import annotations

from flask import current_app


def engine():
    return current_app.extensions["services"].engine


def db():
    return current_app.extensions["services"].db
