"""Production server: granian, one worker process per host with a pool of WSGI threads.

granian parses HTTP/1.1 (and HTTP/2) and writes responses in Rust threads that do not hold the
GIL. Behind one interpreter's GIL, that is what makes the hot path (route + outcome) fast:
gunicorn's pure-Python HTTP handling cost a third of the worker's CPU
(docs/PERFORMANCE_BENCHMARKS.md). granian runs its RSGI interface, and app.front reads each
request's body on the event loop before one of the WSGI threads runs the app: granian's WSGI
interface lets the thread read the body, and a slow uploader held it (issue 14). The front costs
CPU per request (more thread handoffs: about 10 to 30 % more worker CPU per route+outcome pair
in bench.load), so `server.interface = wsgi` keeps granian's WSGI interface for a deployment
behind a proxy that buffers whole request bodies before it forwards them (nginx does by
default), where no slow body reaches the service.

Connections: granian's backpressure bounds the connections the worker holds (an idle kept-alive
one counts); it is `server.max_connections`, raised to fit the file-descriptor limit, which is
itself raised to its hard limit when it is lower. An idle kept-alive connection is closed after
`server.timeout_s`, the headers' timeout, which hyper also applies between requests.

One process per host keeps the in-memory load counters, cooldowns and learned health exact (an
outcome always reaches the process that made its decision); threads give concurrency, and more
hosts behind a load balancer give scale (DESIGN §7). The master process only supervises: it
restarts a worker that died, and on SIGTERM (or SIGINT) it tells the worker to stop. The worker
stops accepting, finishes the requests it has, then drains the writer (Services.stop, run as a
multiprocessing exit finalizer: the worker process ends through multiprocessing, which runs
finalizers and not atexit). A worker that has not ended within graceful_timeout_s is killed; the
rows it acknowledged are already durable.
"""

from __future__ import annotations

import logging
import multiprocessing.util
import os
import resource
import socket
import sys
from functools import partial

THREADS_PER_CORE = 16
# descriptors kept for everything but client connections: database, spool, logs, pipes
FD_RESERVE = 256
log = logging.getLogger(__name__)
# granian's own lines (worker started, stopped, killed) go through the root logger, so they get
# our format and request-id filter like every other line.
_LOGGING = {
    "loggers": {
        "_granian": {"handlers": [], "propagate": True},
        "granian.access": {"handlers": [], "propagate": True},
    }
}


def threads(config) -> int:
    """WSGI threads of the worker: the setting, or 16 per core (0). A request holds its thread
    while it waits for the group commit, so there are many more threads than cores."""
    return config["server.threads"] or THREADS_PER_CORE * (os.cpu_count() or 1)


def connection_budget(config) -> int:
    """`server.max_connections`, within the descriptors this process may open.

    The soft RLIMIT_NOFILE is raised towards the hard one when it is short (many systems start
    at 1024, and 2,000 idle connections need more); what still does not fit lowers the budget
    with a warning, so that accepting never fails with EMFILE.
    """
    wanted = config["server.max_connections"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted + FD_RESERVE:
        target = wanted + FD_RESERVE
        if hard != resource.RLIM_INFINITY:
            target = min(target, hard)
        if target > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
    if soft == resource.RLIM_INFINITY:
        return wanted
    budget = max(1, min(wanted, soft - FD_RESERVE))
    if budget < wanted:
        log.warning(
            "server.max_connections %d lowered to %d: the file-descriptor limit is %d",
            wanted,
            budget,
            soft,
        )
    return budget


def granian_options(config, host: str, port: int) -> dict:
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    front = config["server.interface"] == "rsgi"
    return {
        "address": host,
        "port": port,
        # RSGI, so that request bodies are read on the event loop (app.front), not by a thread;
        # WSGI only behind a proxy that buffers whole request bodies (see the setting)
        "interface": Interfaces.RSGI if front else Interfaces.WSGI,
        "websockets": False,  # the app has none; saying so spares a log line at every start
        "workers": 1,
        # granian's own pool runs WSGI; unused under RSGI, where app.front has the threads
        "blocking_threads": 1 if front else threads(config),
        "backlog": 2048,
        # granian's backpressure counts accepted connections (a kept-alive idle connection
        # holds its place), not requests: it is the worker's connection budget. Requests beyond
        # the threads wait inside; the writer's bounded queue answers 503 long before memory
        # matters.
        "backpressure": connection_budget(config),
        # a request's headers must arrive within this time, and hyper closes a kept-alive
        # connection that stays silent that long after an answer; a slow or stalled client
        # holds no thread meanwhile (headers are read in Rust, bodies by app.front)
        "http1_settings": HTTP1Settings(header_read_timeout=config["server.timeout_s"] * 1000),
        "workers_kill_timeout": config["server.graceful_timeout_s"],
        "respawn_failed_workers": True,
        "log_level": config["log.level"].lower(),
        "log_dictconfig": _LOGGING,
        "log_access": False,
    }


def load_app(overrides: dict | None = None):
    """Build the app in the worker process, and drain its writer when the worker ends."""
    from app import create_app
    from app.front import RequestFront

    app = create_app(overrides)
    services = app.extensions["services"]
    config = services.config
    # Runs when the worker's target returns (after granian stopped serving) and on a normal
    # interpreter exit of the worker; priority before multiprocessing's own finalizers.
    multiprocessing.util.Finalize(None, services.stop, exitpriority=100)
    if config["server.interface"] == "wsgi":
        return app
    return RequestFront(
        app,
        threads=threads(config),
        body_timeout_s=config["server.body_timeout_s"],
        max_body_bytes=config["api.max_body_bytes"],
        drain_timeout_s=config["server.graceful_timeout_s"],
    )


class _ExpectedThreadCount(logging.Filter):
    """Drops granian's start-up warning about "quite high" WSGI thread counts: here the threads
    mostly wait for a group commit (about a millisecond each) rather than run Python, and the
    count is the server.threads setting, chosen for that (THREADS_PER_CORE)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "seems quite high" not in record.getMessage()


def _server_class():
    from granian.server import Server

    class RouterServer(Server):
        """granian's server with the listening socket held by the master on Linux too.

        On Linux granian gives each worker a socket of its own (SO_REUSEPORT): with our single
        worker, a worker that dies takes the only listener with it, so until its replacement
        is up, new connections are refused and those waiting in its queue are reset. Held by the
        master (granian's way on the other platforms, inherited by the forked worker),
        connections wait in the backlog through a respawn instead.
        """

        def _init_shared_socket(self):
            if self.bind_uds or sys.platform != "linux":
                return super()._init_shared_socket()
            from granian.net import SocketSpec

            # the two halves of granian's own method (server/common.py and server/mp.py)
            # without the Linux short cut
            self._ssp = None
            self._shd = SocketSpec(self.bind_addr, self.bind_port, self.backlog).build()
            self._sfd = self._shd.get_fd()
            self._sso = socket.socket(fileno=self._sfd)
            self._sso.set_inheritable(True)
            return None

    return RouterServer


def serve(config, host: str, port: int, overrides: dict | None = None) -> None:
    logging.getLogger("_granian").addFilter(_ExpectedThreadCount())
    server = _server_class()("app:create_app", **granian_options(config, host, port))
    server.serve(target_loader=partial(load_app, overrides), wrap_loader=False)
