"""What every store module shares: transactions, time and value conversions, error codes.

Times: the database keeps UTC. Python binds them as text 'YYYY-MM-DD HH:MM:SS.ffffff', which
SQLite stores as is (so they sort as times) and HANA converts to TIMESTAMP. Results are returned
as ISO 8601 strings with an explicit UTC offset, whatever the dialect handed back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

# Codes of the errors our procedures raise (SIGNAL on HANA, RAISE_ERROR on SQLite): the HTTP
# status and the problem title each one means (the message names the argument or object).
# They reach Python as app.db.errors.ProcedureError(code, message).
PROCEDURE_ERRORS: dict[int, tuple[int, str]] = {
    10001: (422, "invalid argument"),  # hours, limit, retention days, success, latency, batch id
    10002: (404, "unknown assignment"),
    10003: (404, "unknown assignment run"),
    10004: (404, "unknown model"),
    10005: (409, "assignment run not pending"),  # already active, superseded, or a dry run
    10006: (409, "assignment run empty"),
    10007: (409, "outcome batch already applied"),
}


def write(db, work: Callable[[Any], T], conn=None) -> T:
    """Run work(conn) in the caller's transaction, or in a new one retried on transient errors."""
    if conn is not None:
        return work(conn)
    return db.run_in_transaction(work)


@contextmanager
def reading(db, conn=None) -> Iterator[Any]:
    """The caller's connection, or a pooled one for reads."""
    if conn is not None:
        yield conn
    else:
        with db.read() as fresh:
            yield fresh


def db_time(value: datetime | str | None) -> str | None:
    """A UTC time as bound to both dialects: 'YYYY-MM-DD HH:MM:SS.ffffff'.

    Accepts an aware datetime (converted to UTC), a naive one (taken as UTC) or an ISO string;
    a string already in that form is returned as is (rows are often converted twice).
    """
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return value
        value = datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def api_time(value: datetime | str | None) -> str | None:
    """A time read from either dialect as ISO 8601 UTC ('2026-01-21T20:50:00.000000+00:00')."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def now() -> str:
    return db_time(datetime.now(UTC))


def flag(value: Any) -> int | None:
    """A boolean as stored (0/1)."""
    return None if value is None else int(bool(value))


def as_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def to_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def from_json(text: str | None, default: Any = None) -> Any:
    return default if text is None else json.loads(text)


def as_float(value: Any) -> float | None:
    """DECIMAL/int/None from either driver as float (or None)."""
    return None if value is None else float(value)
