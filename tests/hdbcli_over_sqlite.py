"""A DB-API module over a real SQLite file that fails the way hdbcli does, for yoyo tests.

It raises hdbcli's own exception classes with HANA's codes (most server errors as the base
`dbapi.Error`, as the real driver does: HANA_NOTES), and, like a HANA session by default,
commits every DDL statement at once unless the session ran `SET TRANSACTION AUTOCOMMIT DDL OFF`.
`HONOUR_DDL_OFF = False` makes a session ignore that statement, for the fallback that drops
what a failed migration left. HANA-only spellings yoyo's HANA backend sends are rewritten to
SQLite's. Nothing here stands in for HANA's SQL: the migrations it runs are SQLite's own.
"""

from __future__ import annotations

import re
import sqlite3

from hdbcli.dbapi import DatabaseError, Error, IntegrityError, ProgrammingError  # noqa: F401

paramstyle = ("qmark", "named")
HONOUR_DDL_OFF = True
_DDL = re.compile(r"^\s*(CREATE|DROP|ALTER)\b", re.IGNORECASE)
_REWRITES = (
    ("CREATE COLUMN TABLE", "CREATE TABLE"),
    ("CURRENT_UTCTIMESTAMP", "CURRENT_TIMESTAMP"),
    (
        "SELECT TABLE_NAME FROM SYS.TABLES WHERE SCHEMA_NAME = CURRENT_SCHEMA",
        "SELECT name FROM sqlite_master WHERE type = 'table'",
    ),
    (
        "SELECT OBJECT_NAME, OBJECT_TYPE FROM SYS.OBJECTS WHERE SCHEMA_NAME = CURRENT_SCHEMA",
        "SELECT name, upper(type) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
    ),
)


def _hana_error(exc: sqlite3.Error) -> Error:
    text = str(exc)
    if "already exists" in text:
        return ProgrammingError(288, f"cannot use duplicate table name: {text}")
    if text.startswith("no such table"):
        return ProgrammingError(259, f"invalid table name: {text}")
    if "CHECK constraint failed" in text:
        return Error(677, f"check constraint violation: {text}")  # plain Error, as hdbcli
    if "syntax error" in text:
        return ProgrammingError(257, f"sql syntax error: {text}")
    return Error(258, f"insufficient privilege: {text}")  # plain Error, as hdbcli


class Cursor:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._cursor = connection.raw.cursor()

    @property
    def description(self):
        return self._cursor.description

    @property
    def rowcount(self):
        return self._cursor.rowcount

    def execute(self, sql: str, params=None):
        if sql.strip().upper() == "SET TRANSACTION AUTOCOMMIT DDL OFF":
            self.connection.ddl_autocommit = not HONOUR_DDL_OFF
            return self
        for hana, sqlite in _REWRITES:
            sql = sql.replace(hana, sqlite)
        self.connection.log.append(sql)
        try:
            if not self.connection.raw.in_transaction:
                self.connection.raw.execute("BEGIN")  # a HANA session is always in one
            self._cursor.execute(sql, params or ())
        except sqlite3.Error as exc:
            raise _hana_error(exc) from exc
        if self.connection.ddl_autocommit and _DDL.match(sql):
            self.connection.raw.commit()
        return self

    def fetchall(self):
        return self._cursor.fetchall()

    def fetchone(self):
        return self._cursor.fetchone()

    def close(self) -> None:
        self._cursor.close()


class Connection:
    def __init__(self, path: str) -> None:
        # transactions begun explicitly (Cursor.execute), so DDL is inside them as SQLite
        # allows; the ddl_autocommit flag then commits DDL at once, HANA's default
        self.raw = sqlite3.connect(path, isolation_level=None)
        self.ddl_autocommit = True
        self.log: list[str] = []

    def cursor(self) -> Cursor:
        return Cursor(self)

    def setautocommit(self, on: bool) -> None:
        assert on is False  # yoyo's HANA backend switches autocommit off, as it must

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()


def connect(*, address, port, user, password, databaseName, **properties) -> Connection:
    return Connection(databaseName)
