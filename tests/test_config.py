"""Settings: precedence, ${VAR} expansion, rejection by name, the password never shown."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.config import SETTINGS, ConfigError, Secret, load_config

HANA_ENV = {"HANA_HOST": "hana.example", "HANA_PASSWORD": "s3cr3t-pw", "HANA_USER": "APP"}


def write_file(tmp_path, data) -> str:
    path = tmp_path / "hana.config.json"
    path.write_text(json.dumps(data))
    return str(path)


def seed_file(**changes) -> dict:
    data = {
        "host": "filehost",
        "port": 30015,
        "database": "NOPENAI_DB",
        "user": "NUCLEUS_APP",
        "password": "${HANA_PASSWORD}",
        "pool": {
            "min_connections": 5,
            "max_connections": 10,
            "idle_timeout_ms": 30000,
            "connection_timeout_ms": 5000,
        },
        "retry": {"max_attempts": 3, "initial_delay_ms": 100, "max_delay_ms": 5000},
    }
    data.update(changes)
    return data


def test_defaults_use_sqlite_without_hana():
    config = load_config(env={})
    assert config.backend == "sqlite"
    assert config["sqlite.path"] == "var/model_router.db"
    assert config["pool.min_connections"] == 5 and config["pool.max_connections"] == 10


def test_shipped_config_file_has_the_seed_shape():
    data = json.loads(Path("config/hana.config.json").read_text())
    assert data == seed_file(host="localhost")


def test_file_then_environment_precedence(tmp_path):
    path = write_file(tmp_path, seed_file(pool={"min_connections": 2, "max_connections": 8}))
    env = {
        "HANA_PASSWORD": "pw",
        "MODEL_ROUTER_HANA_CONFIG": path,
        "MODEL_ROUTER_DB_BACKEND": "hana",
        "HANA_POOL_MAX": "9",
    }
    config = load_config(env=env)
    assert config.backend == "hana"
    assert config["hana.host"] == "filehost" and config.source("hana.host") == "file"
    assert config["pool.min_connections"] == 2
    assert config["pool.max_connections"] == 9 and config.source("pool.max_connections") == "env"
    assert config["hana.password"].reveal() == "pw"


def test_hana_host_in_environment_selects_hana(tmp_path):
    env = dict(HANA_ENV, MODEL_ROUTER_HANA_CONFIG=str(tmp_path / "absent.json"))
    config = load_config(env=env)
    assert config.backend == "hana" and config["hana.host"] == "hana.example"


def test_override_beats_environment():
    config = load_config(
        {"pool.max_connections": 3, "pool.min_connections": 1}, env={"HANA_POOL_MAX": "7"}
    )
    assert config["pool.max_connections"] == 3


def test_unset_variable_is_an_error_naming_it(tmp_path):
    path = write_file(tmp_path, seed_file(password="${NOT_SET_ANYWHERE}"))
    env = {"MODEL_ROUTER_HANA_CONFIG": path, "MODEL_ROUTER_DB_BACKEND": "hana"}
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        load_config(env=env)


@pytest.mark.parametrize(
    "env, name",
    [
        ({"HANA_POOL_MIN": "11"}, "pool.min_connections"),
        ({"HANA_POOL_MIN": "-1"}, "pool.min_connections"),
        ({"HANA_POOL_IDLE_TIMEOUT_MS": "-5"}, "pool.idle_timeout_ms"),
        ({"HANA_POOL_CONNECTION_TIMEOUT_MS": "0"}, "pool.connection_timeout_ms"),
        ({"HANA_PORT": "70000"}, "hana.port"),
        ({"HANA_PORT": "0"}, "hana.port"),
        ({"HANA_PORT": "abc"}, "hana.port"),
        ({"MODEL_ROUTER_STRATEGY": "fastest"}, "routing.default_strategy"),
        ({"HANA_ENCRYPT": "maybe"}, "hana.encrypt"),
        ({"HANA_RETRY_INITIAL_DELAY_MS": "9000"}, "retry.initial_delay_ms"),
    ],
)
def test_invalid_values_are_rejected_by_name(env, name):
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        load_config(env=env)


def test_unknown_keys_are_rejected(tmp_path):
    path = write_file(tmp_path, seed_file(pool={"min_connections": 5, "max_conections": 10}))
    env = {
        "HANA_PASSWORD": "x",
        "MODEL_ROUTER_HANA_CONFIG": path,
        "MODEL_ROUTER_DB_BACKEND": "hana",
    }
    with pytest.raises(ConfigError, match="pool.max_conections"):
        load_config(env=env)
    with pytest.raises(ConfigError, match="no.such"):
        load_config({"no.such": 1}, env={})


def test_password_is_masked_everywhere(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    config = load_config(env=dict(HANA_ENV, MODEL_ROUTER_HANA_CONFIG=str(tmp_path / "none")))
    secret = config["hana.password"]
    assert isinstance(secret, Secret)
    for text in (repr(config), str(config.public()), repr(secret), str(secret), f"{secret}"):
        assert "s3cr3t-pw" not in text
    logging.getLogger("test").info("config %s %r", config, secret)
    assert "s3cr3t-pw" not in caplog.text
    with pytest.raises(ConfigError) as info:
        load_config(env=dict(HANA_ENV, HANA_PORT="nope"))
    assert "s3cr3t-pw" not in str(info.value)


def test_every_setting_has_help_and_an_environment_variable():
    envs = [s.env for s in SETTINGS]
    assert len(envs) == len(set(envs))
    for setting in SETTINGS:
        assert setting.help and setting.env
