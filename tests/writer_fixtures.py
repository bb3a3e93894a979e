"""Fixtures of the writer tests; test modules load them with
`pytest_plugins = ["writer_fixtures"]`: writers stopped at teardown, a seeded catalog, raw reads,
a started database whose backend fails on demand."""

from __future__ import annotations

import pytest
from writer_support import FAST, Raw, seed

from app.db.database import Database
from app.db.faults import FaultySqliteBackend
from app.db.spool import Spool
from app.db.writer import Writer


@pytest.fixture
def writers():
    """Builds writers and stops every one at teardown."""
    made: list[Writer] = []

    def make(db, spool, **kwargs) -> Writer:
        spool = spool if isinstance(spool, Spool) else Spool(spool)
        writer = Writer(db, spool, **{**FAST, **kwargs}).start()
        made.append(writer)
        return writer

    yield make
    for writer in made:
        assert writer.stop(timeout=5.0)


@pytest.fixture
def seeded(db):
    return seed(db)


@pytest.fixture
def raw(migrated) -> Raw:
    return Raw(migrated["sqlite.path"])


@pytest.fixture
def faulty(migrated):
    """A started Database on the migrated file whose backend fails on demand."""
    backend = FaultySqliteBackend(migrated["sqlite.path"], busy_timeout_ms=2000)
    database = Database(
        backend,
        min_size=1,
        max_size=4,
        acquire_timeout=0.3,
        health_check_interval=0.2,
        retry_attempts=1,
        retry_initial_delay=0.01,
        retry_max_delay=0.05,
    )
    database.start()
    yield database
    backend.fail_now = False
    database.close()
