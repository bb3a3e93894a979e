"""The production server's options: what the settings become for granian (app/server.py).

The server itself runs in tests/test_durability.py and tests/test_e2e.py (real processes,
SIGTERM, kill -9); this checks the translation of each setting."""

from __future__ import annotations

import os

from granian.constants import Interfaces
from granian.server import Server

from app.config import load_config
from app.server import THREADS_PER_CORE, granian_options


def _options(**settings):
    return granian_options(load_config(settings), "127.0.0.1", 8123)


def test_defaults_one_worker_many_threads_and_a_connection_budget():
    options = _options()
    assert options["interface"] is Interfaces.WSGI
    assert options["workers"] == 1  # exact per-host load counters: one process per host
    assert options["blocking_threads"] == THREADS_PER_CORE * (os.cpu_count() or 1)
    assert options["backpressure"] == 1024
    assert options["workers_kill_timeout"] == 20
    assert options["http1_settings"].header_read_timeout == 30_000
    assert options["respawn_failed_workers"] is True
    assert (options["address"], options["port"]) == ("127.0.0.1", 8123)


def test_settings_reach_the_server():
    options = _options(
        **{
            "server.threads": 8,
            "server.max_connections": 300,
            "server.graceful_timeout_s": 7,
            "server.timeout_s": 5,
            "log.level": "WARNING",
        }
    )
    assert options["blocking_threads"] == 8
    assert options["backpressure"] == 300
    assert options["workers_kill_timeout"] == 7
    assert options["http1_settings"].header_read_timeout == 5000
    assert options["log_level"] == "warning"


def test_granian_accepts_the_options():
    """Every option is one granian's Server knows, with a value it takes (its constructor
    checks them; nothing is started)."""
    server = Server("app:create_app", **_options())
    assert server.workers == 1 and server.blocking_threads == _options()["blocking_threads"]
    assert server.backpressure == 1024


def test_granians_thread_count_warning_is_dropped_and_nothing_else():
    import logging

    from app.server import _ExpectedThreadCount

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("_granian", logging.WARNING, __file__, 1, message, None, None)

    drop = _ExpectedThreadCount()
    warning = (
        "Configuration allows spawning up to 32 Python threads, which seems quite high "
        "compared to the number of CPU cores available."
    )
    assert not drop.filter(record(warning))
    assert drop.filter(record("Killing worker-1 after it refused to gracefully stop"))
    assert _options()["websockets"] is False
