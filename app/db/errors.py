"""Database errors the rest of the service sees, whatever the dialect.

Backends classify driver errors into the classes of HANA_NOTES (connection lost, transient,
timeout, fatal) and raise these types, so callers never inspect driver error codes themselves.
"""

from __future__ import annotations

import enum


class ErrorClass(enum.Enum):
    CONNECTION_LOST = "connection_lost"  # discard the connection; retry idempotent work
    TRANSIENT = "transient"  # roll back and retry the transaction with backoff
    TIMEOUT = "timeout"  # the statement used its whole time limit: never waited for again
    FATAL = "fatal"  # no retry; a clear error to the caller


class DatabaseError(Exception):
    """Base of all database errors raised by app.db."""

    error_class = ErrorClass.FATAL


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached now (connection lost, pool exhausted, outage)."""

    error_class = ErrorClass.CONNECTION_LOST


class StatementTimeout(DatabaseUnavailable):
    """A statement ran into its time limit (HANA 613, SQLite's progress-handler limit).

    Not retried: a retry would wait the whole limit again, so a request could wait several
    limits. For callers it is the database not answering in time, hence a DatabaseUnavailable
    (503 with Retry-After; the writer spools); the connection itself is sound and kept.
    """

    error_class = ErrorClass.TIMEOUT


class TransientError(DatabaseError):
    """A lock wait or deadlock: the transaction may succeed if retried."""

    error_class = ErrorClass.TRANSIENT


def is_transient(exc: BaseException) -> bool:
    """Whether the same transaction may pass when run again (the retry policies' test)."""
    return isinstance(exc, TransientError)


class UniqueViolation(DatabaseError):
    """A primary or unique key refused a row (e.g. a second outcome for one decision)."""


class ConstraintViolation(DatabaseError):
    """A foreign key or CHECK constraint refused a row."""


class MissingObject(DatabaseError):
    """A table, view, index or procedure named by the statement does not exist (HANA 259, 261,
    321, 328, 397; SQLite "no such ..."): e.g. a schema not migrated yet."""


class ValueTooLarge(DatabaseError):
    """A value does not fit its column (HANA 274; SQLite stores anything).

    `column` names the column when the driver said which (HANA does), else "". The API's limits
    are checked against the column widths by a test, so this is a defect guard, not a path
    clients reach; it is rendered as a 422 naming the column, never quoting the value.
    """

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


class ProcedureError(DatabaseError):
    """A procedure refused its arguments or state (our own codes 10000-19999)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
