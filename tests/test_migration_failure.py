"""A migration that fails half-way leaves the schema as it was, and the next migrate passes.

SQLite runs DDL inside transactions, so the real deploy step on SQLite shows it directly. HANA
commits DDL at once by default; yoyo's HANA backend makes a migration one transaction (SET
TRANSACTION AUTOCOMMIT DDL OFF) and drops what a failed one still left. Its code runs here on
a DB-API module over SQLite that raises hdbcli's real exception classes with HANA's codes and
commits DDL as HANA does by default (tests/hdbcli_over_sqlite.py), so yoyo's error handling is
exercised with the classes the real driver raises.
"""

from __future__ import annotations

import shutil
import sqlite3

import hdbcli_over_sqlite
import pytest
from hdbcli import dbapi
from yoyo import read_migrations
from yoyo.connections import DatabaseURI

from app.db import deploy
from app.db.sqlfiles import MIGRATIONS_ROOT
from app.db.sqlite import SqliteBackend
from app.db.yoyo_hana import HanaYoyoBackend

# Creates a table and an index, then fails on its third statement (a CHECK violation, which
# hdbcli raises as the base dbapi.Error).
BROKEN = """-- depends: {depends}
CREATE TABLE BROKEN_T (X INTEGER NOT NULL CHECK (X > 0));
CREATE INDEX IX_BROKEN_T ON BROKEN_T (X);
INSERT INTO BROKEN_T (X) VALUES (-1);
"""
FIXED = BROKEN.replace("VALUES (-1)", "VALUES (1)")
ROLLBACK = "DROP TABLE BROKEN_T;\n"


def objects(path) -> set[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, type FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return {(name, kind) for name, kind in rows if not name.lower().startswith("_yoyo")}


def write_migration(folder, name: str, text: str) -> None:
    (folder / f"{name}.sql").write_text(text)
    (folder / f"{name}.rollback.sql").write_text(ROLLBACK)


def test_a_failed_sqlite_migration_leaves_no_partial_schema(tmp_path, monkeypatch):
    root = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_ROOT / "sqlite", root / "sqlite")
    last = sorted(p.stem for p in (root / "sqlite").glob("[0-9]*.sql") if ".rollback" not in p.name)
    monkeypatch.setattr(deploy, "MIGRATIONS_ROOT", root)
    backend = SqliteBackend(tmp_path / "m.db")
    deploy.migrate(backend)
    before = objects(backend.path)

    write_migration(root / "sqlite", "9999_create_broken", BROKEN.format(depends=last[-1]))
    with pytest.raises(Exception, match="CHECK"):
        deploy.migrate(backend)
    assert objects(backend.path) == before
    conn = backend.connect()
    assert deploy.pending_migrations(backend, conn) == ["9999_create_broken"]

    write_migration(root / "sqlite", "9999_create_broken", FIXED.format(depends=last[-1]))
    assert deploy.migrate(backend).applied == ["9999_create_broken"]
    assert deploy.pending_migrations(backend, conn) == []
    conn.close()
    assert objects(backend.path) - before == {("BROKEN_T", "table"), ("IX_BROKEN_T", "index")}


class HanaBackendOverSqlite(HanaYoyoBackend):
    """yoyo's HANA backend, unchanged, on the hdbcli-like module over a SQLite file."""

    driver_module = "hdbcli_over_sqlite"

    def drop_object_sql(self, name: str, kind: str) -> str:
        return super().drop_object_sql(name, kind).removesuffix(" CASCADE")  # not in SQLite


@pytest.fixture
def hana_yoyo(tmp_path):
    uri = DatabaseURI("hana", "owner", "secret", "127.0.0.1", 30015, str(tmp_path / "h.db"), {})
    backend = HanaBackendOverSqlite(uri, "_yoyo_migration")
    backend.init_database()
    yield backend
    backend.connection.close()


def apply(backend, folder) -> list[str]:
    migrations = read_migrations(str(folder))
    with backend.lock():
        todo = backend.to_apply(migrations)
        backend.apply_migrations(todo)
    return [m.id for m in todo]


def test_the_hana_yoyo_backend_catches_hdbcli_base_error(hana_yoyo):
    assert hana_yoyo.DatabaseError is dbapi.Error
    assert not issubclass(dbapi.Error, dbapi.DatabaseError)  # what yoyo's default would miss


@pytest.mark.parametrize(
    "ddl_off_honoured", [True, False], ids=["ddl-in-transaction", "ddl-autocommitted"]
)
def test_a_failed_hana_migration_leaves_the_schema_as_it_was(
    tmp_path, hana_yoyo, monkeypatch, ddl_off_honoured
):
    monkeypatch.setattr(hdbcli_over_sqlite, "HONOUR_DDL_OFF", ddl_off_honoured)
    folder = tmp_path / "hana_migrations"
    folder.mkdir()
    (folder / "0001_create_first.sql").write_text("CREATE TABLE FIRST_T (X INTEGER);\n")
    (folder / "0001_create_first.rollback.sql").write_text("DROP TABLE FIRST_T;\n")
    assert apply(hana_yoyo, folder) == ["0001_create_first"]
    db_path = tmp_path / "h.db"
    before = objects(db_path)

    write_migration(folder, "0002_create_broken", BROKEN.format(depends="0001_create_first"))
    with pytest.raises(dbapi.Error) as caught:
        apply(hana_yoyo, folder)
    assert type(caught.value) is dbapi.Error and caught.value.errorcode == 677
    assert objects(db_path) == before  # nothing of 0002 is left
    assert [m.id for m in hana_yoyo.to_apply(read_migrations(str(folder)))] == [
        "0002_create_broken"
    ]

    write_migration(folder, "0002_create_broken", FIXED.format(depends="0001_create_first"))
    assert apply(hana_yoyo, folder) == ["0002_create_broken"]
    assert objects(db_path) - before == {("BROKEN_T", "table"), ("IX_BROKEN_T", "index")}


def test_every_migration_connection_makes_ddl_transactional(hana_yoyo):
    with hana_yoyo.copy() as migration_backend:
        assert migration_backend.connection.ddl_autocommit is False


def test_a_failed_migration_drops_only_what_its_own_creates_name(tmp_path, monkeypatch):
    """DDL committed at once, probed so from the start (yoyo then also runs the executed steps'
    rollbacks): a table the failed migration renamed keeps its rows; only its CREATEs go."""
    monkeypatch.setattr(hdbcli_over_sqlite, "HONOUR_DDL_OFF", False)
    uri = DatabaseURI("hana", "owner", "secret", "127.0.0.1", 30015, str(tmp_path / "r.db"), {})
    backend = HanaBackendOverSqlite(uri, "_yoyo_migration")
    backend.init_database()
    folder = tmp_path / "hana_migrations"
    folder.mkdir()
    (folder / "0001_create_first.sql").write_text(
        "CREATE TABLE FIRST_T (X INTEGER);\nINSERT INTO FIRST_T (X) VALUES (42);\n"
    )
    (folder / "0001_create_first.rollback.sql").write_text("DROP TABLE FIRST_T;\n")
    assert apply(backend, folder) == ["0001_create_first"]
    (folder / "0002_rename_then_fail.sql").write_text(
        "-- depends: 0001_create_first\n"
        "ALTER TABLE FIRST_T RENAME TO FIRST_OLD;\n"
        "CREATE TABLE BROKEN_T (X INTEGER NOT NULL CHECK (X > 0));\n"
        "INSERT INTO BROKEN_T (X) VALUES (-1);\n"
    )
    (folder / "0002_rename_then_fail.rollback.sql").write_text("DROP TABLE BROKEN_T;\n")
    with pytest.raises(dbapi.Error):
        apply(backend, folder)
    names = {name for name, _ in objects(tmp_path / "r.db")}
    assert "BROKEN_T" not in names
    with sqlite3.connect(tmp_path / "r.db") as conn:
        kept = [t for t in ("FIRST_T", "FIRST_OLD") if t in names]
        assert [conn.execute(f"SELECT X FROM {kept[0]}").fetchall()] == [[(42,)]]
    backend.connection.close()
