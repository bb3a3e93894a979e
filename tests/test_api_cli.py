"""The command line around the API: bootstrap, keys and catalog files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from conftest import copy_template

from app import keys as keyring_module
from app.catalog_file import CatalogFileError, read_catalog
from app.cli import main
from app.db.database import Database

EXAMPLE = Path("config/catalog.example.json")


@pytest.fixture
def cli(request, monkeypatch, capsys):
    """Run `model-router ...` on the test database; returns (exit code, stdout, stderr)."""
    settings = request.getfixturevalue("migrated")
    monkeypatch.setenv("MODEL_ROUTER_SQLITE_PATH", settings["sqlite.path"])
    monkeypatch.setenv("MODEL_ROUTER_SPOOL_PATH", settings["spool.path"])
    monkeypatch.setenv("HANA_POOL_MIN", "1")

    def run(*argv: str):
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


@pytest.fixture
def database(request):
    db = Database.from_config(request.getfixturevalue("migrated"))
    db.start()
    yield db
    db.close()


def test_bootstrap_loads_the_example_into_an_empty_database(cli, database, monkeypatch):
    monkeypatch.setenv("MODEL_ROUTER_CATALOG", str(EXAMPLE))
    code, out, _ = cli("bootstrap")
    assert code == 0
    assert "loaded 7 models and 6 agents" in out
    key = out.strip().splitlines()[-1]
    assert keyring_module.KeyRing(database).verify(key).role == "admin"

    code, out, _ = cli("bootstrap")  # again: nothing loaded, no second key
    assert code == 0 and "not empty" in out and "mr_" not in out
    assert keyring_module.KeyRing(database).active_admins() == 1


def test_bootstrap_with_no_file_only_makes_the_key(cli, monkeypatch):
    monkeypatch.setenv("MODEL_ROUTER_CATALOG", "")
    code, out, _ = cli("bootstrap")
    assert code == 0 and "loaded" not in out and out.strip().splitlines()[-1].startswith("mr_")


def test_bootstrap_refuses_a_bad_file(cli, tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": 1, "models": [{"id": "m", "endpoint": "ftp://x"}]}')
    monkeypatch.setenv("MODEL_ROUTER_CATALOG", str(bad))
    code, _, err = cli("bootstrap")
    assert code == 2 and "models.0.endpoint" in err and "models.0.context_window" in err


def test_keys_create_list_revoke(cli, database, caplog):
    caplog.set_level(logging.INFO)
    code, out, _ = cli("keys", "create", "--role", "router", "--label", "chat backend")
    assert code == 0
    key = out.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    assert keyring_module.KeyRing(database).verify(key).role == "router"
    assert key not in caplog.text and key_id in caplog.text

    code, out, _ = cli("keys", "list")
    assert code == 0 and key_id in out and "chat backend" in out and key not in out

    code, out, _ = cli("keys", "revoke", key_id)
    assert code == 0 and "revoked" in out
    assert keyring_module.KeyRing(database).verify(key) is None
    assert cli("keys", "revoke", "0123456789abcdef")[0] == 1


def test_keys_create_needs_a_known_role_and_a_printable_label(cli):
    with pytest.raises(SystemExit):
        cli("keys", "create", "--role", "root")
    code, out, err = cli("keys", "create", "--role", "viewer", "--label", "x" * 201)
    assert code == 2 and "label" in err and "mr_" not in out
    code, _, err = cli("keys", "create", "--role", "viewer", "--label", "two\nlines")
    assert code == 2 and "label" in err


def test_catalog_export_import_round_trip(cli, tmp_path, monkeypatch, database, migrated_template):
    assert cli("catalog", "import", str(EXAMPLE))[0] == 0
    exported = tmp_path / "export.json"
    assert cli("catalog", "export", str(exported))[0] == 0
    first = json.loads(exported.read_text())
    example = json.loads(EXAMPLE.read_text())
    for part in ("models", "agents"):  # every field of the example survives (sorted by id)
        assert first[part] == sorted(example[part], key=lambda item: item["id"])

    # into another, empty database: the same catalog back
    other = tmp_path / "other.db"
    copy_template(migrated_template, other)
    monkeypatch.setenv("MODEL_ROUTER_SQLITE_PATH", str(other))
    assert cli("catalog", "import", str(exported))[0] == 0
    code, out, _ = cli("catalog", "export")
    assert code == 0 and json.loads(out) == first


def test_import_replaces_existing_entries(cli, tmp_path, database):
    cli("catalog", "import", str(EXAMPLE))
    changed = json.loads(EXAMPLE.read_text())
    changed["models"] = [dict(changed["models"][0], max_concurrency=9, status="draining")]
    changed["agents"] = []
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    code, out, _ = cli("catalog", "import", str(path))
    assert code == 0 and "1 models and 0 agents" in out
    from app.db import store

    model = store.get_model(database, changed["models"][0]["id"])
    assert model["max_concurrency"] == 9 and model["status"] == "draining"
    assert len(store.list_models(database)) == 7


@pytest.mark.parametrize(
    "text,where",
    [
        ("{", "not valid JSON"),
        ('{"version": 2}', "version"),
        ('{"models": [], "agents": [], "extra": 1}', "extra"),
        (
            '{"models": [{"id": "m", "endpoint": "http://x", "context_window": 1, '
            '"capabilities": {"c": 2}}]}',
            "models.0.capabilities.c",
        ),
    ],
)
def test_read_catalog_errors_name_the_place(tmp_path, text, where):
    path = tmp_path / "c.json"
    path.write_text(text)
    with pytest.raises(CatalogFileError, match=where):
        read_catalog(path)


def test_read_catalog_missing_file(tmp_path):
    with pytest.raises(CatalogFileError, match="cannot read"):
        read_catalog(tmp_path / "nothing.json")
