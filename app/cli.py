"""Command line: `model-router migrate | serve | bootstrap | keys ... | catalog ...`."""

from __future__ import annotations

import argparse
import logging
import sys

from app.config import ConfigError, load_config

log = logging.getLogger("app.cli")


def _migrate(args, config) -> int:
    from app.db import deploy
    from app.db.database import make_backend

    report = deploy.migrate(make_backend(config))
    print(f"migrated {make_backend(config).describe()}: {len(report.applied)} migrations "
          f"applied, {len(report.views)} views and {len(report.procedures)} procedures deployed")
    return 0


def _serve(args, config) -> int:
    from app.server import serve

    host = args.host or config["server.host"]
    port = args.port or config["server.port"]
    print(f"Model Router serving on http://{host}:{port}/", flush=True)
    serve(config, host, port)
    return 0


COMMANDS = {"migrate": _migrate, "serve": _serve}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model-router", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply migrations and redeploy views and procedures")
    serve = sub.add_parser("serve", help="serve the API with gunicorn")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    for register in _EXTENSIONS:
        register(sub, COMMANDS)
    return parser


_EXTENSIONS: list = []


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return COMMANDS[args.command](args, config)


if __name__ == "__main__":
    sys.exit(main())
