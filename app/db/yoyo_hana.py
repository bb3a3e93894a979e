"""A yoyo-migrations backend for SAP HANA over hdbcli (registered as `hana` in yoyo.backends).

Follows HANA_NOTES: hdbcli's paramstyle is a tuple, which yoyo's change_param_style cannot read,
so this backend binds parameters itself; autocommit is switched off at connect; HANA has no BEGIN
statement, so begin() only sets a flag and savepoints are no-ops (as yoyo's Oracle backend does);
yoyo's internal tables are created directly in their current (quoted lowercase) shape.
"""

from __future__ import annotations

from yoyo.backends.base import DatabaseBackend

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


class HanaYoyoBackend(DatabaseBackend):
    driver_module = "hdbcli.dbapi"
    list_tables_sql = "SELECT TABLE_NAME FROM SYS.TABLES WHERE SCHEMA_NAME = CURRENT_SCHEMA"
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
