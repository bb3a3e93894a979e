"""Command line: `model-router migrate | serve | bootstrap | keys ... | catalog ...`.

Keys are printed to standard output once, when created, and never logged.
"""

from __future__ import annotations

import argparse
import logging
import sys
from contextlib import contextmanager

from app.config import ConfigError, load_config
from app.logs import configure_cli_logging

log = logging.getLogger("app.cli")


def _migrate(args, config) -> int:
    from app.db import deploy
    from app.db.database import make_backend

    report = deploy.migrate(make_backend(config))
    print(
        f"migrated {make_backend(config).describe()}: {len(report.applied)} migrations "
        f"applied, {len(report.views)} views and {len(report.procedures)} procedures deployed"
    )
    return 0


def _serve(args, config) -> int:
    from app.server import serve

    host = args.host or config["server.host"]
    port = args.port or config["server.port"]
    print(f"Model Router serving on http://{host}:{port}/", flush=True)
    serve(config, host, port)
    return 0


@contextmanager
def _database(config):
    from app.db.database import Database

    db = Database.from_config(config)
    db.start()
    try:
        yield db
    finally:
        db.close()


def _bootstrap(args, config) -> int:
    """Load the bootstrap catalog into an empty database; make the first admin key."""
    from app.catalog_file import (
        CatalogFileError,
        catalog_is_empty,
        import_catalog,
        read_catalog,
    )
    from app.keys import KeyRing

    path = config["catalog.bootstrap_file"]
    with _database(config) as db:
        if path and catalog_is_empty(db):
            try:
                counts = import_catalog(db, read_catalog(path))
            except CatalogFileError as exc:
                print(f"bootstrap: {exc}", file=sys.stderr)
                return 2
            print(
                f"bootstrap: loaded {counts['models']} models and {counts['agents']} agents "
                f"from {path}"
            )
        elif path:
            print("bootstrap: the catalog is not empty; left as it is")
        ring = KeyRing(db)
        if ring.active_admins() == 0:
            record, key = ring.create("admin", "bootstrap")
            print(
                f"bootstrap: admin API key {record['key_id']} created; it is shown once, "
                f"store it now:\n{key}"
            )
    return 0


def _keys_create(args, config) -> int:
    from app.api.schemas import KeyIn
    from app.api.validation import field_errors
    from app.keys import KeyRing

    try:
        KeyIn.model_validate({"role": args.role, "label": args.label})
    except ValueError as exc:
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in field_errors(exc))
        print(f"keys create: {reasons}", file=sys.stderr)
        return 2
    with _database(config) as db:
        record, key = KeyRing(db).create(args.role, args.label)
    print(f"created {record['role']} key {record['key_id']}; it is shown once, store it now:")
    print(key)
    return 0


def _keys_list(args, config) -> int:
    from app.keys import KeyRing

    with _database(config) as db:
        ring, after, rows = KeyRing(db), None, []
        while batch := ring.list(after, 500):
            rows.extend(batch)
            after = batch[-1]["key_id"]
    print(f"{'KEY_ID':<18}{'ROLE':<8}{'CREATED_AT':<34}{'REVOKED_AT':<34}LABEL")
    for row in rows:
        print(
            f"{row['key_id']:<18}{row['role']:<8}{row.get('created_at') or '':<34}"
            f"{row.get('revoked_at') or '':<34}{row.get('label') or ''}"
        )
    return 0


def _keys_revoke(args, config) -> int:
    from app.keys import KeyRing
    from app.problems import NotFound

    with _database(config) as db:
        try:
            record = KeyRing(db).revoke(args.key_id)
        except NotFound as exc:
            print(exc.detail, file=sys.stderr)
            return 1
    print(
        f"revoked key {record['key_id']} ({record['role']}); running servers refuse it within "
        f"seconds"
    )
    return 0


def _catalog_import(args, config) -> int:
    from app.catalog_file import CatalogFileError, import_catalog, read_catalog

    try:
        catalog = read_catalog(args.file)
    except CatalogFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    with _database(config) as db:
        counts = import_catalog(db, catalog)
    print(f"imported {counts['models']} models and {counts['agents']} agents from {args.file}")
    return 0


def _catalog_export(args, config) -> int:
    from app.catalog_file import dumps, export_catalog

    with _database(config) as db:
        text = dumps(export_catalog(db))
    if args.file in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(args.file, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"exported the catalog to {args.file}", file=sys.stderr)
    return 0


COMMANDS = {
    "migrate": _migrate,
    "serve": _serve,
    "bootstrap": _bootstrap,
    "keys create": _keys_create,
    "keys list": _keys_list,
    "keys revoke": _keys_revoke,
    "catalog import": _catalog_import,
    "catalog export": _catalog_export,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="model-router", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply migrations and redeploy views and procedures")
    serve = sub.add_parser("serve", help="serve the API with granian")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    sub.add_parser(
        "bootstrap",
        help="load catalog.bootstrap_file into an empty database and "
        "create the first admin key (printed once)",
    )
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True, choices=("admin", "router", "viewer"))
    create.add_argument("--label", default="")
    keys.add_parser("list", help="list keys (never the keys themselves)")
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    catalog = sub.add_parser("catalog", help="catalog files").add_subparsers(
        dest="action", required=True
    )
    load = catalog.add_parser("import", help="create or replace the models and agents of FILE")
    load.add_argument("file")
    dump = catalog.add_parser("export", help="write the catalog to FILE (default: stdout)")
    dump.add_argument("file", nargs="?")
    return parser


def main(argv: list[str] | None = None) -> int:
    configure_cli_logging()
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    name = f"{args.command} {args.action}" if getattr(args, "action", None) else args.command
    return COMMANDS[name](args, config)


if __name__ == "__main__":
    sys.exit(main())
