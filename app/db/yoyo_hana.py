"""A yoyo-migrations backend for SAP HANA over hdbcli (registered as `hana` in yoyo.backends).

Follows HANA_NOTES: hdbcli's paramstyle is a tuple, which yoyo's change_param_style cannot read,
so this backend binds parameters itself; autocommit is switched off at connect; HANA has no BEGIN
statement, so begin() only sets a flag and savepoints are no-ops (as yoyo's Oracle backend does);
yoyo's internal tables are created directly in their current (quoted lowercase) shape.

Errors: hdbcli raises most server errors (258 privilege, 613, 677, our SIGNALs) as the base
`dbapi.Error`, not `DatabaseError`, and yoyo catches only `backend.DatabaseError` (lock table
creation, the transactional-DDL probe, a failed step's undo): so this backend's DatabaseError
is `dbapi.Error`.

A failed migration leaves the schema as it was. HANA commits each DDL statement by default, so
every migration connection runs `SET TRANSACTION AUTOCOMMIT DDL OFF` (as SAP's sqlalchemy-hana
does for Alembic): a migration is then one transaction that yoyo rolls back whole. Should a
statement still have committed, the objects the failed migration's own CREATE statements name
and that are new since it began are dropped (never another session's object, nor one it renamed
or altered), so the next `migrate` starts clean.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from yoyo import exceptions
from yoyo.backends.base import DatabaseBackend

log = logging.getLogger(__name__)

_INTERNAL_TABLES = (
    (
        "_yoyo_migration",
        'CREATE COLUMN TABLE "_yoyo_migration" ("migration_hash" VARCHAR(64), '
        '"migration_id" VARCHAR(255), "applied_at_utc" TIMESTAMP, PRIMARY KEY ("migration_hash"))',
    ),
    (
        "_yoyo_log",
        'CREATE COLUMN TABLE "_yoyo_log" ("id" VARCHAR(36), "migration_hash" '
        'VARCHAR(64), "migration_id" VARCHAR(255), "operation" VARCHAR(10), "username" '
        'VARCHAR(255), "hostname" VARCHAR(255), "comment" VARCHAR(255), "created_at_utc" '
        'TIMESTAMP, PRIMARY KEY ("id"))',
    ),
    (
        "_yoyo_version",
        'CREATE COLUMN TABLE "_yoyo_version" ("version" INT NOT NULL PRIMARY '
        'KEY, "installed_at_utc" TIMESTAMP)',
    ),
)


# Objects a migration may create, dropped in this order when a failed one left them behind.
_DROP_ORDER = ("VIEW", "PROCEDURE", "FUNCTION", "INDEX", "TABLE", "SEQUENCE")


_CREATED = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:(?:COLUMN|ROW|UNIQUE)\s+)?"
    r"(?:TABLE|VIEW|INDEX|SEQUENCE|PROCEDURE|FUNCTION)\s+\"?(\w+)\"?",
    re.IGNORECASE | re.MULTILINE,
)


def created_by(migration) -> set[str]:
    """Upper-case names of the objects the migration's own statements create."""
    text = Path(migration.path).read_text(encoding="utf-8")
    return {name.upper() for name in _CREATED.findall(text)}


class HanaYoyoBackend(DatabaseBackend):
    driver_module = "hdbcli.dbapi"
    list_tables_sql = "SELECT TABLE_NAME FROM SYS.TABLES WHERE SCHEMA_NAME = CURRENT_SCHEMA"
    list_objects_sql = (
        "SELECT OBJECT_NAME, OBJECT_TYPE FROM SYS.OBJECTS WHERE SCHEMA_NAME = CURRENT_SCHEMA"
    )
    transactional_ddl_sql = "SET TRANSACTION AUTOCOMMIT DDL OFF"

    def __init__(self, dburi, migration_table):
        super().__init__(dburi, migration_table)
        self.DatabaseError = self.driver.Error  # the base class: see the module docstring

    def _load_driver_module(self):
        driver = super()._load_driver_module()
        exceptions.register(driver.Error)
        return driver

    def init_connection(self, connection):
        """On connect and after every rollback: DDL joins the transaction (HANA's default
        commits each DDL statement at once)."""
        cursor = connection.cursor()
        try:
            cursor.execute(self.transactional_ddl_sql)
        finally:
            cursor.close()

    create_lock_table_sql = (
        'CREATE COLUMN TABLE {0.lock_table_quoted} ("locked" INT DEFAULT 1, '
        '"ctime" TIMESTAMP, "pid" INT NOT NULL, PRIMARY KEY ("locked"))'
    )

    def connect(self, dburi):
        kwargs = dict(dburi.args or {})
        kwargs.update(
            address=dburi.hostname, port=dburi.port, user=dburi.username, password=dburi.password
        )
        if dburi.database and dburi.database != "default":
            kwargs["databaseName"] = dburi.database
        kwargs.setdefault("encrypt", True)
        kwargs.setdefault("sslValidateCertificate", True)
        kwargs.setdefault("connectTimeout", 5000)
        kwargs.setdefault("communicationTimeout", 30000)
        connection = self.driver.connect(**kwargs)
        connection.setautocommit(False)
        return connection

    def begin(self):
        """HANA is always in a transaction once autocommit is off; there is no BEGIN."""
        self._in_transaction = True

    def savepoint(self, id):
        """Savepoints are not used: each migration runs in its own transaction."""

    def savepoint_release(self, id):
        """See savepoint()."""

    def savepoint_rollback(self, id):
        """See savepoint()."""

    def execute(self, sql, params=None):
        cursor = self.cursor()
        if params:
            cursor.execute(sql, dict(params))  # hdbcli binds :name parameters itself
        else:
            cursor.execute(sql)
        return cursor

    def create_lock_table(self):
        """yoyo swallows every error here; only "table exists" (288) is expected: a missing
        privilege (258) or a lost connection must be seen."""
        try:
            with self.transaction():
                self.execute(self.format_sql(self.create_lock_table_sql))
        except self.DatabaseError as exc:
            if getattr(exc, "errorcode", None) != 288:
                raise

    def apply_one(self, migration, force=False, mark=True):
        """Apply one migration; if it fails, drop what it created and left, then re-raise."""
        before = self.schema_objects()
        try:
            super().apply_one(migration, force=force, mark=mark)
        except self.DatabaseError as failure:
            log.error("migration %s failed: %s", migration.id, failure)
            # only objects this migration's own CREATE statements name, new since it began:
            # never another session's, nor one renamed or altered by the migration
            left = {
                (name, kind)
                for name, kind in self.schema_objects() - before
                if name.upper() in created_by(migration)
            }
            if left:
                log.error(
                    "migration %s failed and left %d objects; dropping them: %s",
                    migration.id,
                    len(left),
                    ", ".join(sorted(name for name, _ in left)),
                )
                self.drop_objects(left)
            raise

    def schema_objects(self) -> set[tuple[str, str]]:
        """(name, type) of the objects in the migration schema, yoyo's own excluded."""
        rows = self.execute(self.list_objects_sql).fetchall()
        self.connection.rollback()  # a read: leave no transaction open for yoyo's next step
        return {(row[0], row[1]) for row in rows if not str(row[0]).lower().startswith("_yoyo")}

    def drop_objects(self, objects: set[tuple[str, str]]) -> None:
        """Drop objects left by a failed migration, dependants first; each drop commits on its
        own, and one that fails (already dropped with its table) does not stop the rest."""
        rank = {kind: i for i, kind in enumerate(_DROP_ORDER)}
        for name, kind in sorted(objects, key=lambda o: (rank.get(o[1], len(rank)), o[0])):
            if kind not in rank:
                log.error("left %s %s in place: not a kind a migration creates", kind, name)
                continue
            try:
                self.execute(self.drop_object_sql(name, kind))
                self.connection.commit()
            except self.DatabaseError as exc:
                self.connection.rollback()
                log.info("drop of %s %s skipped: %s", kind, name, exc)

    def drop_object_sql(self, name: str, kind: str) -> str:
        cascade = "" if kind == "INDEX" else " CASCADE"
        return f"DROP {kind} {self.quote_identifier(name)}{cascade}"

    def list_tables(self, **kwargs):
        return [row[0] for row in self.execute(self.list_tables_sql).fetchall()]

    def ensure_internal_schema_updated(self):
        if self._internal_schema_updated:
            return
        existing = set(self.list_tables())
        with self.transaction():
            for name, ddl in _INTERNAL_TABLES:
                if name not in existing:
                    self.execute(ddl)
            if "_yoyo_version" not in existing:
                self.execute(
                    'INSERT INTO "_yoyo_version" ("version", "installed_at_utc") '
                    "VALUES (2, CURRENT_UTCTIMESTAMP)"
                )
        self._internal_schema_updated = True
