"""Cursor pagination: lists answer `{"items": [...], "next_cursor": "..." | null}`.

A cursor is opaque to clients: URL-safe base64 of a small JSON object naming the sort key of the
last item returned (keyset pagination, so pages stay stable while rows are added). A cursor that
does not decode is a 422 on the `cursor` field, never a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.problems import InvalidInput

_VERSION = 1


def encode_cursor(after: str | int) -> str:
    raw = json.dumps({"v": _VERSION, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type = str) -> Any:
    """The sort key a cursor points after (None for no cursor); raises InvalidInput."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        after = data["a"]
        if data.get("v") != _VERSION or type(after) is not kind:
            raise ValueError
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            "the cursor is not valid",
            field_errors=[{"field": "cursor", "reason": "not a cursor returned by this API"}],
        ) from None
    return after


def page(
    fetch: Callable[[Any, int], list[Mapping]],
    key: str,
    limit: int,
    cursor: str | None,
    kind: type = str,
) -> dict:
    """One page from `fetch(after, n)`, which returns up to n rows sorted by `key` after `after`.

    One extra row is fetched to know whether another page exists.
    """
    rows = list(fetch(decode_cursor(cursor, kind), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode_cursor(rows[-1][key]) if more and rows else None}


def page_of(
    rows: Iterable[Mapping],
    key: str,
    limit: int,
    cursor: str | None,
    newest_first: bool = False,
    kind: type = str,
) -> dict:
    """`page` over rows already in memory (short lists), sorted by `key` (descending when
    `newest_first`)."""
    ordered = sorted(rows, key=lambda row: row[key], reverse=newest_first)
    if newest_first:

        def fetch(after, n):
            return [row for row in ordered if after is None or row[key] < after][:n]
    else:

        def fetch(after, n):
            return [row for row in ordered if after is None or row[key] > after][:n]

    return page(fetch, key, limit, cursor, kind)
