"""SAP HANA backend over hdbcli.

Every connection gets connectTimeout and communicationTimeout from the configuration (hdbcli has
no connect timeout by default and hangs on a deaf server), TLS with certificate validation on by
default, and autocommit off (hdbcli's default is on, unlike PEP 249). hdbcli silently ignores a
misspelt property, so the property names live in CONNECT_PROPERTIES only and a test checks them.
Errors are classified by HANA error code as HANA_NOTES describes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.db import errors
from app.db.sqlfiles import load_catalog, to_qmark

# Documented SQLDBC property names (case-insensitive in hdbcli; keep this exact spelling).
CONNECT_PROPERTIES = frozenset(
    {
        "address",
        "port",
        "user",
        "password",
        "databaseName",
        "currentSchema",
        "encrypt",
        "sslValidateCertificate",
        "sslTrustStore",
        "sslHostNameInCertificate",
        "connectTimeout",
        "communicationTimeout",
        "reconnect",
        "statementCacheSize",
    }
)

# Codes as HANA_NOTES classifies them (SAP's error code list).
CONNECTION_LOST_CODES = frozenset({-10709, -10807, -10108, -10821, 1888, -10735})
# 131 lock wait timeout, 133 deadlock, 146 lock acquisition failed, 129 transaction rolled back
# by an internal error: the same transaction may pass when run again.
TRANSIENT_CODES = frozenset({131, 133, 146, 129})
STATEMENT_TIMEOUT = 613  # the statement used its whole limit: not retried (errors.StatementTimeout)
UNIQUE_VIOLATION = 301
VALUE_TOO_LARGE = 274
CONSTRAINT_CODES = frozenset({287, 461, 462, 677})  # not null, FK (461/462), CHECK
# invalid table / index / view / function or procedure / object name: the object is missing
MISSING_OBJECT_CODES = frozenset({259, 261, 321, 328, 397})
_TOO_LARGE_COLUMN = re.compile(r'"([A-Za-z0-9_$#]+)"\s+column')
SIGNAL_CODES = range(10000, 20000)


class HanaBackend:
    dialect = "hana"
    prepares_statements = True  # hot statements: prepare once per connection, then execute

    def __init__(
        self,
        *,
        host: str,
        port: int,
        user: str,
        password,
        database: str = "",
        schema: str = "",
        encrypt: bool = True,
        validate_certificate: bool = True,
        trust_store: str = "",
        host_name_in_certificate: str = "",
        connect_timeout_ms: int = 5000,
        communication_timeout_ms: int = 30000,
        statement_timeout_s: int = 30,
    ) -> None:
        self.host, self.port, self.user = host, port, user
        self._password = password  # a config.Secret: never printed
        self.database, self.schema = database, schema
        self.encrypt, self.validate_certificate = encrypt, validate_certificate
        self.trust_store, self.host_name_in_certificate = trust_store, host_name_in_certificate
        self.connect_timeout_ms = connect_timeout_ms
        self.communication_timeout_ms = communication_timeout_ms
        self.statement_timeout_s = statement_timeout_s
        self.sql = load_catalog("hana")

    @classmethod
    def from_config(cls, config) -> HanaBackend:
        return cls(
            host=config["hana.host"],
            port=config["hana.port"],
            user=config["hana.user"],
            password=config["hana.password"],
            database=config["hana.database"],
            schema=config["hana.schema"],
            encrypt=config["hana.encrypt"],
            validate_certificate=config["hana.ssl_validate_certificate"],
            trust_store=config["hana.ssl_trust_store"],
            host_name_in_certificate=config["hana.ssl_host_name_in_certificate"],
            connect_timeout_ms=config["pool.connection_timeout_ms"],
            communication_timeout_ms=config["hana.communication_timeout_ms"],
            statement_timeout_s=config["hana.statement_timeout_s"],
        )

    def __repr__(self) -> str:
        return f"HanaBackend({self.describe()})"

    def describe(self) -> str:
        """Where the database is, as /api/v1/system/db shows it to viewers: no user name (it
        is half of a login), no password."""
        return f"hana://{self.host}:{self.port}/{self.database or '-'}"

    def yoyo_uri(self) -> str:
        # The password goes to yoyo through connect_properties(), never through this URI.
        return f"hana://{self.user}@{self.host}:{self.port}/{self.database or 'default'}"

    # -- connections -------------------------------------------------------------------------

    def connect_properties(self) -> dict[str, Any]:
        props: dict[str, Any] = {
            "address": self.host,
            "port": self.port,
            "user": self.user,
            "password": self._password.reveal()
            if hasattr(self._password, "reveal")
            else str(self._password),
            "encrypt": self.encrypt,
            "sslValidateCertificate": self.validate_certificate,
            "connectTimeout": self.connect_timeout_ms,
            "communicationTimeout": self.communication_timeout_ms,
        }
        optional = {
            "databaseName": self.database,
            "currentSchema": self.schema,
            "sslTrustStore": self.trust_store,
            "sslHostNameInCertificate": self.host_name_in_certificate,
        }
        props.update({k: v for k, v in optional.items() if v})
        unknown = set(props) - CONNECT_PROPERTIES
        assert not unknown, f"undocumented hdbcli properties {unknown}"
        return props

    def connect(self):
        from hdbcli import dbapi  # imported here: nothing is loaded at import of app

        try:
            conn = dbapi.connect(**self.connect_properties())
        except dbapi.Error as exc:
            raise self.translate(exc) from None  # `from None`: the driver text may echo input
        conn.setautocommit(False)
        return conn

    def ping(self, conn) -> bool:
        try:
            return bool(conn.isconnected()) and self.execute(conn, "SELECT 1 FROM DUMMY", ()) != []
        except Exception:
            return False

    @contextmanager
    def time_limit(self, conn, seconds: float) -> Iterator[None]:
        """Nothing per call: HANA's query timeout counts whole seconds (setquerytimeout), too
        coarse for a deadline of a few hundred ms, and is set once per prepared statement. A
        caller with a deadline stops waiting on its own (app.db.deadline) and cancels the
        request (`interrupt`); the statement timeout and communicationTimeout end the rest."""
        yield

    def interrupt(self, conn) -> None:
        """Cancel the request running on `conn` (hdbcli's Connection.cancel, thread-safe)."""
        conn.cancel()

    def reset(self, conn) -> None:
        conn.rollback()

    def begin(self, conn, *, immediate: bool = True) -> None:
        """Autocommit is off: a transaction begins with the first statement."""

    def commit(self, conn) -> None:
        try:
            conn.commit()
        except Exception as exc:
            raise (translated := self.translate(exc)) from _cause(translated, exc)

    def rollback(self, conn) -> None:
        conn.rollback()

    # -- statements --------------------------------------------------------------------------

    def execute(
        self, conn, sql: str, params: Any = (), cache: dict | None = None
    ) -> list[dict] | int:
        """Run one statement. With a per-connection `cache` (the pool's) the statement is
        prepared once per connection and executed with executeprepared from then on."""
        cursor = None
        try:
            if cache is not None:
                cursor, names = self._prepared(conn, sql, cache)
                cursor.executeprepared(_positional(params, names))
            else:
                cursor = conn.cursor()
                if self.statement_timeout_s:
                    cursor.setquerytimeout(self.statement_timeout_s)
                cursor.execute(sql, params) if params else cursor.execute(sql)
            if not cursor.description:
                return cursor.rowcount
            columns = [d[0].lower() for d in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        except Exception as exc:
            raise (translated := self.translate(exc)) from _cause(translated, exc)
        finally:
            if cache is None and cursor is not None:
                cursor.close()

    def executemany(self, conn, sql: str, rows: list, cache: dict | None = None) -> int:
        """One batch: executemanyprepared on a statement prepared once per connection."""
        try:
            if cache is not None:
                cursor, names = self._prepared(conn, sql, cache)
                cursor.executemanyprepared([_positional(row, names) for row in rows])
                return len(rows)
            cursor = conn.cursor()
            try:
                if self.statement_timeout_s:
                    cursor.setquerytimeout(self.statement_timeout_s)
                cursor.executemany(sql, rows)
            finally:
                cursor.close()
            return len(rows)
        except Exception as exc:
            raise (translated := self.translate(exc)) from _cause(translated, exc)

    def _prepared(self, conn, sql: str, cache: dict):
        entry = cache.get(sql)
        if entry is None:
            qmark_sql, names = to_qmark(sql)
            cursor = conn.cursor()
            if self.statement_timeout_s:
                cursor.setquerytimeout(self.statement_timeout_s)
            cursor.prepare(qmark_sql)
            entry = cache[sql] = (cursor, names)
        return entry

    def call(self, conn, name: str, params: dict) -> list[dict]:
        """CALL the procedure with its declared parameters in order; first result set back."""
        procedure = self.sql.procedures[name]
        if set(params) != set(procedure.params):
            raise TypeError(f"{name} takes {', '.join(procedure.params)}; got {sorted(params)}")
        placeholders = ", ".join("?" for _ in procedure.params)
        values = [params[p] for p in procedure.params]
        result = self.execute(conn, f"CALL {name}({placeholders})", values)
        return result if isinstance(result, list) else []

    # -- errors ------------------------------------------------------------------------------

    def translate(self, exc: BaseException, conn=None) -> Exception:
        """Map a hdbcli error (mostly the base dbapi.Error: HANA_NOTES) to app.db.errors by
        its errorcode."""
        code = getattr(exc, "errorcode", None)
        text = getattr(exc, "errortext", None) or str(exc)
        if code in CONNECTION_LOST_CODES or "connection closed" in str(text).lower():
            return errors.DatabaseUnavailable(f"HANA connection lost ({code}): {text}")
        if code == STATEMENT_TIMEOUT:
            return errors.StatementTimeout(f"HANA statement timeout ({code})")
        if code in TRANSIENT_CODES:
            return errors.TransientError(f"HANA transient error ({code}): {text}")
        if code == UNIQUE_VIOLATION:
            return errors.UniqueViolation(f"HANA unique constraint violated: {text}")
        if code == VALUE_TOO_LARGE:
            # The text quotes the offending value: keep only the column's name.
            match = _TOO_LARGE_COLUMN.search(str(text))
            column = match.group(1) if match else ""
            return errors.ValueTooLarge(f"HANA value too large for column {column or '?'}", column)
        if code in CONSTRAINT_CODES:
            return errors.ConstraintViolation(f"HANA constraint violated ({code}): {text}")
        if code in MISSING_OBJECT_CODES:
            return errors.MissingObject(f"HANA object missing ({code}): {text}")
        if isinstance(code, int) and code in SIGNAL_CODES:
            return errors.ProcedureError(code, str(text))
        return errors.DatabaseError(f"HANA error ({code}): {text}")

    # -- deploy ------------------------------------------------------------------------------

    def yoyo_backend(self):
        """yoyo's HANA backend with this backend's connection properties; the password goes
        through them, never through a URI that could be logged."""
        from yoyo.connections import DatabaseURI

        from app.db.yoyo_hana import HanaYoyoBackend

        props = self.connect_properties()
        uri_parts = ("address", "port", "user", "password", "databaseName")
        args = {k: v for k, v in props.items() if k not in uri_parts}
        uri = DatabaseURI(
            "hana",
            props["user"],
            props["password"],
            props["address"],
            props["port"],
            props.get("databaseName", "default"),
            args,
        )
        yoyo_backend = HanaYoyoBackend(uri, "_yoyo_migration")
        yoyo_backend.init_database()
        return yoyo_backend

    def begin_redeploy(self, conn) -> None:
        """Nothing: every HANA view file is a CREATE OR REPLACE."""

    def drop_view(self, conn, name: str) -> None:
        try:
            self.execute(conn, f'DROP VIEW "{name}"')
        except errors.MissingObject:
            pass

    def discard_failed_view(self, conn, name: str) -> None:
        """Nothing: the view of the last deploy, if any, stays in place until its
        CREATE OR REPLACE passes."""

    def procedure_ddl(self, procedure) -> list[str]:
        return [procedure.text.strip().rstrip(";")]

    def classify(self, exc: BaseException) -> errors.ErrorClass:
        if isinstance(exc, errors.DatabaseError):
            return exc.error_class
        return self.translate(exc).error_class

    def is_connection_error(self, exc: BaseException) -> bool:
        return self.classify(exc) is errors.ErrorClass.CONNECTION_LOST


def _cause(translated: Exception, exc: BaseException) -> BaseException | None:
    """The driver's error to chain, unless its text quotes a value (274 names the value too
    large): a logged traceback would print it."""
    return None if isinstance(translated, errors.ValueTooLarge) else exc


def _positional(params: Any, names: tuple[str, ...]) -> tuple:
    """Named parameters (a mapping) in placeholder order; a sequence is passed through."""
    if isinstance(params, dict):
        return tuple(params[name] for name in names)
    return tuple(params or ())
