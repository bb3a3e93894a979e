"""The HANA backend's connection paths with the real hdbcli against loopback sockets.

No HANA server runs here: a refused port and a port that accepts and never answers (a "deaf"
server) are real network faults for hdbcli; SQL on HANA is covered by the contract suite when
HANA_TEST_URL is set.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest

from app.config import Secret
from app.db import errors
from app.db.hana import CONNECT_PROPERTIES, HanaBackend
from app.db.retry import Backoff, no_jitter

# The SQLDBC connection properties as SAP documents them (hdbcli ignores unknown names silently).
DOCUMENTED = {
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


class DeafServer:
    """Accepts TCP connections and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self._stop = True
        self.thread.join(1)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def deaf():
    server = DeafServer()
    yield server
    server.close()


def refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connect is refused
    return port


def backend(port: int, timeout_ms: int = 500) -> HanaBackend:
    return HanaBackend(
        host="127.0.0.1",
        port=port,
        user="APP",
        password=Secret("pw-123456"),
        encrypt=False,
        connect_timeout_ms=timeout_ms,
        communication_timeout_ms=timeout_ms,
    )


def test_property_names_are_the_documented_ones():
    assert CONNECT_PROPERTIES <= DOCUMENTED
    full = HanaBackend(
        host="h",
        port=1,
        user="u",
        password=Secret("p"),
        database="D",
        schema="S",
        trust_store="/t.pem",
        host_name_in_certificate="h",
    )
    props = full.connect_properties()
    assert set(props) <= DOCUMENTED
    assert props["connectTimeout"] == 5000 and props["communicationTimeout"] == 30000
    assert props["encrypt"] is True and props["sslValidateCertificate"] is True


@pytest.mark.parametrize("kind", ["refused", "deaf"])
def test_connect_fails_within_the_timeout_as_connection_lost(kind, deaf):
    port = refused_port() if kind == "refused" else deaf.port
    started = time.monotonic()
    with pytest.raises(errors.DatabaseUnavailable) as info:
        backend(port, timeout_ms=500).connect()
    elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 0.5
    assert "pw-123456" not in str(info.value)
    assert backend(port).classify(info.value) is errors.ErrorClass.CONNECTION_LOST
    if kind == "deaf":
        assert elapsed >= 0.4  # it really waited for the deaf server


def test_connect_is_retried_per_the_policy(deaf):
    hana = backend(deaf.port, timeout_ms=300)
    slept: list[float] = []
    backoff = Backoff(
        2, 0.05, 5.0, 1.0, jitter=no_jitter, sleep=lambda d: (slept.append(d), time.sleep(d))
    )
    started = time.monotonic()
    with pytest.raises(errors.DatabaseUnavailable):
        backoff.call(hana.connect, retry_if=hana.is_connection_error)
    assert slept == [0.05, 0.25]
    assert len(deaf.accepted) == 3  # the first try and two retries reached the server
    assert time.monotonic() - started < 3 * 0.3 + 0.3 + 1.0


# (hdbcli class the driver raises for the code, code, our type, our class). The driver's own
# code-to-class mapping raises most server errors as the base dbapi.Error (HANA_NOTES).
HDBCLI_ERRORS = [
    ("Error", -10709, errors.DatabaseUnavailable, errors.ErrorClass.CONNECTION_LOST),
    ("OperationalError", -10807, errors.DatabaseUnavailable, errors.ErrorClass.CONNECTION_LOST),
    ("Error", 1888, errors.DatabaseUnavailable, errors.ErrorClass.CONNECTION_LOST),
    ("ProgrammingError", 0, errors.DatabaseUnavailable, errors.ErrorClass.CONNECTION_LOST),
    ("Error", 131, errors.TransientError, errors.ErrorClass.TRANSIENT),
    ("Error", 133, errors.TransientError, errors.ErrorClass.TRANSIENT),
    ("Error", 146, errors.TransientError, errors.ErrorClass.TRANSIENT),
    ("Error", 129, errors.TransientError, errors.ErrorClass.TRANSIENT),
    ("Error", 613, errors.StatementTimeout, errors.ErrorClass.TIMEOUT),
    ("IntegrityError", 301, errors.UniqueViolation, errors.ErrorClass.FATAL),
    ("Error", 274, errors.ValueTooLarge, errors.ErrorClass.FATAL),
    ("Error", 677, errors.ConstraintViolation, errors.ErrorClass.FATAL),
    ("IntegrityError", 462, errors.ConstraintViolation, errors.ErrorClass.FATAL),
    ("Error", 463, errors.DatabaseError, errors.ErrorClass.FATAL),  # too many tables
    ("Error", 10002, errors.ProcedureError, errors.ErrorClass.FATAL),
    ("Error", 258, errors.DatabaseError, errors.ErrorClass.FATAL),
    ("ProgrammingError", 259, errors.MissingObject, errors.ErrorClass.FATAL),
    ("Error", 397, errors.MissingObject, errors.ErrorClass.FATAL),
    ("ProgrammingError", 288, errors.DatabaseError, errors.ErrorClass.FATAL),
    ("ProgrammingError", 257, errors.DatabaseError, errors.ErrorClass.FATAL),
]


@pytest.mark.parametrize("driver_class, code, expected, error_class", HDBCLI_ERRORS)
def test_error_classification_by_code(driver_class, code, expected, error_class):
    from hdbcli import dbapi

    text = "Connection closed" if code == 0 else "text"
    exc = getattr(dbapi, driver_class)(code, text)
    translated = backend(1).translate(exc)
    assert type(translated) is expected
    assert backend(1).classify(exc) is error_class
    assert backend(1).is_connection_error(exc) is (error_class is errors.ErrorClass.CONNECTION_LOST)


def test_value_too_large_names_the_column_and_not_the_value():
    from hdbcli import dbapi

    exc = dbapi.Error(
        274,
        'inserted value too large for column: Failed in "ENDPOINT" column with the value '
        "'https://secret.example/abc'",
    )
    translated = backend(1).translate(exc)
    assert isinstance(translated, errors.ValueTooLarge)
    assert translated.column == "ENDPOINT"
    assert "secret" not in str(translated)


def test_a_statement_timeout_is_not_retried_but_keeps_the_connection():
    from hdbcli import dbapi

    translated = backend(1).translate(dbapi.Error(613, "execution aborted by timeout"))
    assert isinstance(translated, errors.DatabaseUnavailable)  # 503 and the writer spools
    assert not isinstance(translated, errors.TransientError)  # run_in_transaction retries these


@pytest.mark.parametrize(
    "sql, expected, names",
    [
        (
            "SELECT * FROM T WHERE A = :a AND B = :b",
            "SELECT * FROM T WHERE A = ? AND B = ?",
            ("a", "b"),
        ),
        (
            "INSERT INTO T VALUES (:x, ':not_a_param', :x)",
            "INSERT INTO T VALUES (?, ':not_a_param', ?)",
            ("x", "x"),
        ),
        ('SELECT "COL:odd" FROM T WHERE C = :c', 'SELECT "COL:odd" FROM T WHERE C = ?', ("c",)),
        ("SELECT 'it''s :x' FROM DUMMY", "SELECT 'it''s :x' FROM DUMMY", ()),
    ],
)
def test_named_placeholders_become_positional_for_prepared_statements(sql, expected, names):
    from app.db.sqlfiles import to_qmark

    assert to_qmark(sql) == (expected, names)


def test_every_hana_query_converts_to_positional_parameters():
    from app.db.sqlfiles import load_catalog, to_qmark

    for name, sql in load_catalog("hana").queries.items():
        converted, names = to_qmark(sql)
        assert to_qmark(converted) == (converted, ()), name  # no named placeholder left
        assert len(names) == len(set(names)) or name, name


def test_yoyo_finds_the_hana_backend_through_its_entry_point():
    from yoyo.backends.base import get_backend_class

    from app.db.yoyo_hana import HanaYoyoBackend

    assert get_backend_class("hana") is HanaYoyoBackend


def test_the_description_viewers_see_names_no_user():
    """GET /api/v1/system/db shows `describe()` to viewers: where the database is, not who logs
    in to it (issue 14)."""
    shown = backend(30015).describe()
    assert shown == "hana://127.0.0.1:30015/-"
    assert "APP" not in shown and "pw-123456" not in shown and "APP" not in repr(backend(1))
