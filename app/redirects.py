"""Redirects point at this service's public address, never at whatever Host a client sent.

Werkzeug builds the absolute URL of its own redirects (a merged double slash, a missing trailing
slash: 308) from the request's Host header, so `GET //dashboard//models` with `Host: evil.example`
was sent to `http://evil.example/dashboard/models` (issue 14). Every Location that points at the
request's own host is rewritten to `server.public_url` when it is set, and to a path on this
same site otherwise (a relative Location is valid HTTP, RFC 9110 §10.2.2).
"""

from __future__ import annotations

from flask import Flask, Response, request


def install(app: Flask, public_url: str) -> None:
    base = public_url.rstrip("/")

    @app.after_request
    def _own_location(response: Response) -> Response:
        location = response.headers.get("Location")
        if location:
            own = request.host_url  # "http://<Host header>/", from the client
            if location.startswith(own):
                response.headers["Location"] = f"{base}/{location[len(own) :]}"
        return response
