"""The production server's options: what the settings become for granian (app/server.py).

The server itself runs in tests/test_durability.py and tests/test_e2e.py (real processes,
SIGTERM, kill -9); this checks the translation of each setting."""

from __future__ import annotations

import os

from granian.constants import Interfaces
from granian.server import Server

from app.config import load_config
from app.server import FD_RESERVE, THREADS_PER_CORE, connection_budget, granian_options, threads


def _options(**settings):
    return granian_options(load_config(settings), "127.0.0.1", 8123)


def test_defaults_one_worker_many_threads_and_a_connection_budget():
    options = _options()
    # RSGI: app.front reads bodies on the event loop and runs the app on its own threads
    assert options["interface"] is Interfaces.RSGI
    assert options["workers"] == 1  # exact per-host load counters: one process per host
    assert options["blocking_threads"] == 1
    assert threads(load_config({})) == THREADS_PER_CORE * (os.cpu_count() or 1)
    # room for 2,000 idle kept-alive connections and more (issue 14), within the fd limit
    assert options["backpressure"] == connection_budget(load_config({})) >= 2200
    assert options["workers_kill_timeout"] == 20
    assert options["http1_settings"].header_read_timeout == 5_000
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
    assert threads(load_config({"server.threads": 8})) == 8
    assert options["backpressure"] == 300
    assert options["workers_kill_timeout"] == 7
    assert options["http1_settings"].header_read_timeout == 5000
    assert options["log_level"] == "warning"


def test_the_wsgi_interface_is_granians_own_with_its_thread_pool():
    """server.interface = wsgi (behind a proxy that buffers bodies): no front, granian's threads."""
    options = _options(**{"server.interface": "wsgi", "server.threads": 8})
    assert options["interface"] is Interfaces.WSGI
    assert options["blocking_threads"] == 8


def test_granian_accepts_the_options():
    """Every option is one granian's Server knows, with a value it takes (its constructor
    checks them; nothing is started)."""
    server = Server("app:create_app", **_options())
    assert server.workers == 1 and server.blocking_threads == 1
    assert server.backpressure == _options()["backpressure"]


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


def test_the_connection_budget_fits_the_descriptor_limit():
    """A budget past the soft limit raises it (up to the hard one); what does not fit lowers
    the budget, leaving FD_RESERVE descriptors for the rest of the process."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
        assert connection_budget(load_config({"server.max_connections": 500})) == 500
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 1024  # enough already
        wanted = 3000
        budget = connection_budget(load_config({"server.max_connections": wanted}))
        raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if hard == resource.RLIM_INFINITY or hard >= wanted + FD_RESERVE:
            assert budget == wanted and raised == wanted + FD_RESERVE
        else:
            assert budget == hard - FD_RESERVE and raised == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
