"""Database errors the rest of the service sees, whatever the dialect.

Backends classify driver errors into three classes (HANA_NOTES: connection lost, transient,
fatal) and raise these types, so callers never inspect driver error codes themselves.
"""

from __future__ import annotations

import enum


class ErrorClass(enum.Enum):
    CONNECTION_LOST = "connection_lost"  # discard the connection; retry idempotent work
    TRANSIENT = "transient"  # roll back and retry the transaction with backoff
    FATAL = "fatal"  # no retry; a clear error to the caller


class DatabaseError(Exception):
    """Base of all database errors raised by app.db."""

    error_class = ErrorClass.FATAL


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached now (connection lost, pool exhausted, outage)."""

    error_class = ErrorClass.CONNECTION_LOST


class TransientError(DatabaseError):
    """A lock wait, deadlock or statement timeout: the transaction may succeed if retried."""

    error_class = ErrorClass.TRANSIENT


class UniqueViolation(DatabaseError):
    """A primary or unique key refused a row (e.g. a second outcome for one decision)."""


class ConstraintViolation(DatabaseError):
    """A foreign key or CHECK constraint refused a row."""


class ProcedureError(DatabaseError):
    """A procedure refused its arguments or state (our own codes 10000-19999)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
