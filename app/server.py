"""Production server: gunicorn, one worker process per host with many threads.

One process per host keeps the in-memory load counters, cooldowns and learned health exact (an
outcome always reaches the process that made its decision); threads give concurrency, and more
hosts behind a load balancer give scale (DESIGN §7). SIGTERM makes gunicorn stop accepting,
finish requests in flight within graceful_timeout, and then the worker's exit hook drains the
writer.
"""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication


def _supported(options: dict) -> dict:
    """Drop options this gunicorn does not know (control_socket_disable came in 23.x+)."""
    from gunicorn.config import KNOWN_SETTINGS

    known = {setting.name for setting in KNOWN_SETTINGS}
    return {k: v for k, v in options.items() if k in known}


def gunicorn_options(config, host: str, port: int) -> dict:
    cores = os.cpu_count() or 1
    threads = config["server.threads"] or 8 * cores
    return {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": config["server.timeout_s"],
        "graceful_timeout": config["server.graceful_timeout_s"],
        "keepalive": 5,
        # gunicorn's heartbeat file: on a container's overlay filesystem it can stall the worker
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "backlog": 2048,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": config["log.level"].lower(),
        "worker_exit": _worker_exit,
        # gunicorn 27's control socket lives at $HOME/.gunicorn/gunicorn.ctl: two servers on one
        # host would unlink each other's; we do not use it
        "control_socket_disable": True,
    }


def _worker_exit(server, worker) -> None:
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("router") if app is not None else None
    if services is not None:
        services.stop()


class RouterServer(BaseApplication):
    def __init__(self, options: dict, overrides: dict | None = None) -> None:
        self.options = options
        self.overrides = overrides
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from app import create_app

        return create_app(self.overrides)


def serve(config, host: str, port: int, overrides: dict | None = None) -> None:
    RouterServer(_supported(gunicorn_options(config, host, port)), overrides).run()
