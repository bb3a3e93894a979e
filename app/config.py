"""Settings: defaults < config/hana.config.json < environment < test override.

One table (SETTINGS) names every setting with its environment variable, default, type and help;
the README's settings table is checked against it by a test. The HANA config file keeps the seed's
shape (top-level connection keys, `pool` and `retry` sections); other sections of the same file may
set any setting by its dotted name. `${VAR}` in the file is expanded from the environment and an
unset variable is an error naming it. Secrets are held as `Secret`, which never prints its value.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A setting is missing, malformed or out of range; the message names it."""


class Secret:
    """A string that never shows itself in repr, str, logs or JSON."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    kind: str  # str, int, float, bool, secret, choice
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


def _s(name, env, default, kind, help, minimum=None, maximum=None, choices=()):
    return Setting(name, env, default, kind, help, minimum, maximum, tuple(choices))


SETTINGS: tuple[Setting, ...] = (
    _s(
        "db.backend",
        "MODEL_ROUTER_DB_BACKEND",
        "",
        "choice",
        "Database backend: sqlite or hana. Empty: hana when HANA_HOST is set, else sqlite.",
        choices=("", "sqlite", "hana"),
    ),
    _s(
        "sqlite.path",
        "MODEL_ROUTER_SQLITE_PATH",
        "var/model_router.db",
        "str",
        "SQLite database file used when no HANA is configured.",
    ),
    _s(
        "sqlite.busy_timeout_ms",
        "MODEL_ROUTER_SQLITE_BUSY_TIMEOUT_MS",
        5000,
        "int",
        "How long SQLite waits for a lock before failing.",
        0,
    ),
    _s(
        "sqlite.statement_timeout_ms",
        "MODEL_ROUTER_SQLITE_STATEMENT_TIMEOUT_MS",
        30000,
        "int",
        "Longest a single SQLite statement may run (0 = no limit).",
        0,
    ),
    _s(
        "hana.config_file",
        "MODEL_ROUTER_HANA_CONFIG",
        "config/hana.config.json",
        "str",
        "Path of the HANA configuration file (seed shape); read only for the hana backend.",
    ),
    _s("hana.host", "HANA_HOST", "localhost", "str", "HANA host name."),
    _s("hana.port", "HANA_PORT", 30015, "int", "HANA SQL port.", 1, 65535),
    _s("hana.database", "HANA_DATABASE", "", "str", "HANA tenant database name."),
    _s("hana.user", "HANA_USER", "", "str", "HANA user of the service."),
    _s("hana.password", "HANA_PASSWORD", "", "secret", "HANA password (environment only)."),
    _s("hana.schema", "HANA_SCHEMA", "", "str", "Schema set as currentSchema (empty: user's)."),
    _s("hana.encrypt", "HANA_ENCRYPT", True, "bool", "TLS to HANA."),
    _s(
        "hana.ssl_validate_certificate",
        "HANA_SSL_VALIDATE_CERTIFICATE",
        True,
        "bool",
        "Validate the HANA server certificate.",
    ),
    _s(
        "hana.ssl_trust_store",
        "HANA_SSL_TRUST_STORE",
        "",
        "str",
        "PEM trust store for the HANA certificate (empty: system store).",
    ),
    _s(
        "hana.ssl_host_name_in_certificate",
        "HANA_SSL_HOST_NAME_IN_CERTIFICATE",
        "",
        "str",
        "Host name expected in the HANA certificate (empty: the host).",
    ),
    _s(
        "hana.communication_timeout_ms",
        "HANA_COMMUNICATION_TIMEOUT_MS",
        30000,
        "int",
        "Network read/write timeout of a HANA connection.",
        1,
    ),
    _s(
        "hana.statement_timeout_s",
        "HANA_STATEMENT_TIMEOUT_S",
        30,
        "int",
        "Query timeout of every HANA statement (0 = none).",
        0,
    ),
    _s("pool.min_connections", "HANA_POOL_MIN", 5, "int", "Connections kept open.", 0),
    _s("pool.max_connections", "HANA_POOL_MAX", 10, "int", "Most connections opened.", 1),
    _s(
        "pool.idle_timeout_ms",
        "HANA_POOL_IDLE_TIMEOUT_MS",
        30000,
        "int",
        "Idle connections above the minimum close after this.",
        0,
    ),
    _s(
        "pool.connection_timeout_ms",
        "HANA_POOL_CONNECTION_TIMEOUT_MS",
        5000,
        "int",
        "Longest wait for a pooled connection, and the connect timeout.",
        1,
    ),
    _s(
        "pool.health_check_interval_ms",
        "HANA_POOL_HEALTH_CHECK_INTERVAL_MS",
        60000,
        "int",
        "Interval of the idle-connection health check.",
        1,
    ),
    _s(
        "pool.validation_window_ms",
        "HANA_POOL_VALIDATION_WINDOW_MS",
        500,
        "int",
        "A connection idle longer than this is pinged on borrow.",
        0,
    ),
    _s(
        "pool.leak_threshold_ms",
        "HANA_POOL_LEAK_THRESHOLD_MS",
        30000,
        "int",
        "Warn when a connection is held longer than this.",
        1,
    ),
    _s(
        "retry.max_attempts",
        "HANA_RETRY_MAX_ATTEMPTS",
        3,
        "int",
        "Retries of a failed connect (one per backoff delay); attempts of a transaction hit "
        "by a transient error.",
        1,
        20,
    ),
    _s(
        "retry.initial_delay_ms", "HANA_RETRY_INITIAL_DELAY_MS", 100, "int", "First retry delay.", 0
    ),
    _s("retry.max_delay_ms", "HANA_RETRY_MAX_DELAY_MS", 5000, "int", "Largest retry delay.", 0),
    _s(
        "retry.budget_ms",
        "MODEL_ROUTER_RETRY_BUDGET_MS",
        3000,
        "int",
        "No transaction retry starts once this long has passed since the first attempt (a lock "
        "wait that used its time is not waited for again; statement timeouts are never retried).",
        0,
    ),
    _s(
        "retry.multiplier",
        "HANA_RETRY_MULTIPLIER",
        5.0,
        "float",
        "Growth of the retry delay (100 ms, 500 ms, 2.5 s).",
        1,
    ),
    _s("server.host", "MODEL_ROUTER_HOST", "127.0.0.1", "str", "Address the server binds."),
    _s("server.port", "MODEL_ROUTER_PORT", 8080, "int", "Port the server binds.", 1, 65535),
    _s(
        "server.public_url",
        "MODEL_ROUTER_PUBLIC_URL",
        "",
        "str",
        "Base URL of redirects, e.g. https://router.example.com (empty: paths on the same "
        "site; never the client's Host header).",
    ),
    _s(
        "server.threads",
        "MODEL_ROUTER_THREADS",
        0,
        "int",
        "WSGI threads of the single worker process (0: 16 per core).",
        0,
    ),
    _s(
        "server.max_connections",
        "MODEL_ROUTER_MAX_CONNECTIONS",
        10000,
        "int",
        "Client connections the worker holds open (idle kept-alive ones count); more wait in "
        "the listen backlog. Lowered to fit the file-descriptor limit.",
        1,
    ),
    _s(
        "server.timeout_s",
        "MODEL_ROUTER_TIMEOUT_S",
        5,
        "int",
        "Seconds a client gets to send a request's headers; an idle kept-alive connection is "
        "closed after as long.",
        1,
    ),
    _s(
        "server.interface",
        "MODEL_ROUTER_INTERFACE",
        "rsgi",
        "choice",
        "rsgi: bodies read on the event loop within server.body_timeout_s, no thread held by a "
        "slow client. wsgi: a thread reads the body, no body timeout, less CPU per request; "
        "only behind a proxy that buffers whole request bodies.",
        choices=("rsgi", "wsgi"),
    ),
    _s(
        "server.body_timeout_s",
        "MODEL_ROUTER_BODY_TIMEOUT_S",
        10.0,
        "float",
        "Seconds a client gets to send a request's whole body, else 408 (no thread waits).",
        0.1,
    ),
    _s(
        "server.graceful_timeout_s",
        "MODEL_ROUTER_GRACEFUL_TIMEOUT_S",
        20,
        "int",
        "Time to drain on SIGTERM before the worker is killed.",
        1,
    ),
    _s(
        "log.level",
        "MODEL_ROUTER_LOG_LEVEL",
        "INFO",
        "choice",
        "Log level.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    _s("log.json", "MODEL_ROUTER_LOG_JSON", False, "bool", "Log one JSON object per line."),
    _s(
        "api.max_body_bytes",
        "MODEL_ROUTER_MAX_BODY_BYTES",
        1048576,
        "int",
        "Largest request body accepted.",
        1,
    ),
    _s(
        "catalog.bootstrap_file",
        "MODEL_ROUTER_CATALOG",
        "config/catalog.example.json",
        "str",
        "Catalog loaded by `bootstrap` into an empty database (empty: none).",
    ),
    _s(
        "routing.default_strategy",
        "MODEL_ROUTER_STRATEGY",
        "adaptive",
        "choice",
        "Strategy when a request names none.",
        choices=("adaptive", "assigned", "least_loaded", "p2c"),
    ),
    _s(
        "routing.cooldown_failures",
        "MODEL_ROUTER_COOLDOWN_FAILURES",
        3,
        "int",
        "Consecutive failures that cool a model down.",
        1,
    ),
    _s(
        "routing.cooldown_error_rate",
        "MODEL_ROUTER_COOLDOWN_ERROR_RATE",
        0.5,
        "float",
        "Recent error rate that cools a model down.",
        0,
        1,
    ),
    _s(
        "routing.cooldown_seconds",
        "MODEL_ROUTER_COOLDOWN_SECONDS",
        30.0,
        "float",
        "How long a cooled-down model rests before a probe.",
        0,
    ),
    _s(
        "routing.health_refresh_s",
        "MODEL_ROUTER_HEALTH_REFRESH_S",
        5.0,
        "float",
        "How often V_MODEL_HEALTH is read in the background.",
        0.1,
    ),
    _s(
        "routing.catalog_refresh_s",
        "MODEL_ROUTER_CATALOG_REFRESH_S",
        10.0,
        "float",
        "How often the catalog is re-read to pick up changes made elsewhere.",
        0.1,
    ),
    _s(
        "cache.ttl_s",
        "MODEL_ROUTER_CACHE_TTL_S",
        30.0,
        "float",
        "Life of a cached candidate ranking.",
        0,
    ),
    _s(
        "cache.max_entries",
        "MODEL_ROUTER_CACHE_MAX_ENTRIES",
        10000,
        "int",
        "Most cached rankings.",
        1,
    ),
    _s(
        "load.inflight_timeout_s",
        "MODEL_ROUTER_INFLIGHT_TIMEOUT_S",
        300.0,
        "float",
        "An in-flight request with no outcome expires after this; until then it holds its "
        "model's slot and its key's and agent's quota (an expiry is not a model failure).",
        1,
    ),
    _s(
        "quota.key_share",
        "MODEL_ROUTER_QUOTA_KEY_SHARE",
        0.5,
        "float",
        "Largest share of the catalog's in-flight capacity (active models' MAX_CONCURRENCY) one "
        "API key may hold; past it route answers 429 (1: no limit).",
        0.01,
        1,
    ),
    _s(
        "quota.agent_share",
        "MODEL_ROUTER_QUOTA_AGENT_SHARE",
        0.5,
        "float",
        "Largest share of the catalog's in-flight capacity one agent may hold; past it route "
        "answers 429 (1: no limit).",
        0.01,
        1,
    ),
    _s(
        "load.snapshot_interval_s",
        "MODEL_ROUTER_SNAPSHOT_INTERVAL_S",
        10.0,
        "float",
        "How often load snapshots are stored.",
        0.1,
    ),
    _s(
        "alerts.interval_s",
        "MODEL_ROUTER_ALERTS_INTERVAL_S",
        5.0,
        "float",
        "How often SP_EVALUATE_ALERTS runs.",
        0.1,
    ),
    _s(
        "alerts.webhook_url",
        "MODEL_ROUTER_ALERT_WEBHOOK",
        "",
        "str",
        "URL that receives a POST for every new alert (empty: none).",
    ),
    _s(
        "alerts.webhook_timeout_s",
        "MODEL_ROUTER_ALERT_WEBHOOK_TIMEOUT_S",
        2.0,
        "float",
        "Timeout of the alert webhook call.",
        0.01,
    ),
    _s(
        "writer.max_batch",
        "MODEL_ROUTER_WRITER_MAX_BATCH",
        500,
        "int",
        "Most rows in one group commit.",
        1,
    ),
    _s(
        "writer.max_wait_ms",
        "MODEL_ROUTER_WRITER_MAX_WAIT_MS",
        2.0,
        "float",
        "How long the writer gathers rows before a commit.",
        0,
    ),
    _s(
        "writer.queue_max",
        "MODEL_ROUTER_WRITER_QUEUE_MAX",
        20000,
        "int",
        "Rows waiting for the writer before requests get 503.",
        1,
    ),
    _s(
        "writer.ack_timeout_s",
        "MODEL_ROUTER_WRITER_ACK_TIMEOUT_S",
        5.0,
        "float",
        "Longest a request waits for its rows to be durable.",
        0.01,
    ),
    _s(
        "writer.commit_deadline_ms",
        "MODEL_ROUTER_WRITER_COMMIT_DEADLINE_MS",
        200,
        "int",
        "A commit not done within this goes to the spool; spooling until a probe is this fast.",
        1,
    ),
    _s(
        "db.request_deadline_ms",
        "MODEL_ROUTER_DB_REQUEST_DEADLINE_MS",
        200,
        "int",
        "Longest a database read on the request path waits before 503 with Retry-After.",
        1,
    ),
    _s(
        "spool.path",
        "MODEL_ROUTER_SPOOL_PATH",
        "var/spool.db",
        "str",
        "Local durable spool used while the database is unavailable.",
    ),
    _s(
        "retention.days",
        "MODEL_ROUTER_RETENTION_DAYS",
        30,
        "int",
        "Raw decisions and outcomes older than this are purged (rollups kept).",
        1,
    ),
    _s(
        "retention.interval_s",
        "MODEL_ROUTER_RETENTION_INTERVAL_S",
        3600.0,
        "float",
        "How often SP_PURGE_HISTORY runs (0 = never).",
        0,
    ),
    _s(
        "retention.batch_rows",
        "MODEL_ROUTER_RETENTION_BATCH_ROWS",
        5000,
        "int",
        "Rows of each table one purge step deletes (one short transaction per step).",
        1,
    ),
    _s(
        "retention.pause_ms",
        "MODEL_ROUTER_RETENTION_PAUSE_MS",
        50,
        "int",
        "Pause between purge steps, so writes get the database in between.",
        0,
    ),
    _s(
        "auth.secret_key",
        "MODEL_ROUTER_SECRET_KEY",
        "",
        "secret",
        "Key signing dashboard sessions (empty: random per start).",
    ),
    _s(
        "auth.key_stale_s",
        "MODEL_ROUTER_KEY_STALE_S",
        3600.0,
        "float",
        "How long a known API key keeps working while the database cannot be read (a key "
        "revoked elsewhere meanwhile works here as long).",
        0,
    ),
    _s(
        "background.enabled",
        "MODEL_ROUTER_BACKGROUND",
        True,
        "bool",
        "Run background loops (health refresh, alerts, snapshots, retention).",
    ),
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
BY_ENV: dict[str, Setting] = {s.env: s for s in SETTINGS}

# The seed's file shape: top-level keys are HANA connection keys.
_FILE_TOP_LEVEL = {"host", "port", "database", "user", "password", "schema"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_vars(value: str, env: Mapping[str, str], where: str) -> str:
    """Replace ${VAR} from env; an unset variable is an error naming it and the setting."""

    def sub(match: re.Match) -> str:
        var = match.group(1)
        if var not in env:
            raise ConfigError(f"{where}: environment variable {var} is not set")
        return env[var]

    return _VAR.sub(sub, value)


def _convert(setting: Setting, raw: Any, source: str) -> Any:
    where = f"setting {setting.name} ({source})"
    try:
        value = _CONVERTERS[setting.kind](raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {setting.kind}, got {_shown(setting, raw)}") from None
    if setting.choices and value not in setting.choices:
        raise ConfigError(
            f"{where}: must be one of {', '.join(c or '(empty)' for c in setting.choices)}"
        )
    if setting.minimum is not None and value < setting.minimum:
        raise ConfigError(f"{where}: must be >= {setting.minimum:g}")
    if setting.maximum is not None and value > setting.maximum:
        raise ConfigError(f"{where}: must be <= {setting.maximum:g}")
    return value


def _shown(setting: Setting, raw: Any) -> str:
    return "********" if setting.kind == "secret" else repr(raw)


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(raw)
    return int(raw)


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    return float(raw)


def _to_str(raw: Any) -> str:
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        raise ValueError(raw)
    return str(raw)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": _to_str,
    "choice": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "secret": lambda raw: raw if isinstance(raw, Secret) else Secret(_to_str(raw)),
}


def _flatten_file(data: Any, path: Path) -> dict[str, Any]:
    """Map the seed-shaped JSON to dotted setting names; unknown keys are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object")
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{key}.{sub}"] = subvalue
        elif key in _FILE_TOP_LEVEL:
            flat[f"hana.{key}"] = value
        else:
            flat[key] = value
    for name in flat:
        if name not in BY_NAME:
            raise ConfigError(f"{path}: unknown setting {name}")
    return flat


class Config(Mapping[str, Any]):
    """Resolved settings, read-only, keyed by dotted name."""

    def __init__(self, values: dict[str, Any], sources: dict[str, str]) -> None:
        self._values = values
        self._sources = sources

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, name: str) -> str:
        return self._sources[name]

    def seconds(self, name: str) -> float:
        """A *_ms setting in seconds."""
        return self._values[name] / 1000.0

    @property
    def backend(self) -> str:
        return self._values["db.backend"]

    def public(self) -> dict[str, Any]:
        """Settings safe to show: secrets masked."""
        return {
            k: ("********" if isinstance(v, Secret) and v else "" if isinstance(v, Secret) else v)
            for k, v in self._values.items()
        }

    def __repr__(self) -> str:
        return f"Config({self.public()!r})"


def load_config(
    override: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Resolve every setting: defaults < HANA file (hana backend only) < environment < override."""
    env = os.environ if env is None else env
    override = dict(override or {})
    for name in override:
        if name not in BY_NAME:
            raise ConfigError(f"unknown setting {name}")
    values = {s.name: s.default for s in SETTINGS}
    sources = {s.name: "default" for s in SETTINGS}
    for setting in SETTINGS:
        if setting.env in env:
            values[setting.name] = _convert(setting, env[setting.env], f"env {setting.env}")
            sources[setting.name] = "env"
    for name, raw in override.items():
        values[name] = _convert(BY_NAME[name], raw, "override")
        sources[name] = "override"
    backend = values["db.backend"] or ("hana" if "HANA_HOST" in env else "sqlite")
    values["db.backend"] = backend
    if backend == "hana":
        _apply_file(values, sources, Path(values["hana.config_file"]), env)
    for setting in SETTINGS:
        if setting.kind == "secret" and not isinstance(values[setting.name], Secret):
            values[setting.name] = Secret(str(values[setting.name]))
    _check_relations(values)
    return Config(values, sources)


def _apply_file(values: dict, sources: dict, path: Path, env: Mapping[str, str]) -> None:
    """File settings win over defaults only: environment and override stay on top."""
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    for name, raw in _flatten_file(data, path).items():
        if sources[name] != "default":
            continue
        setting = BY_NAME[name]
        if isinstance(raw, str):
            raw = expand_vars(raw, env, f"setting {name} ({path})")
        values[name] = _convert(setting, raw, str(path))
        sources[name] = "file"


def _check_relations(values: dict) -> None:
    if values["pool.min_connections"] > values["pool.max_connections"]:
        raise ConfigError(
            "setting pool.min_connections (HANA_POOL_MIN) must not exceed "
            "pool.max_connections (HANA_POOL_MAX)"
        )
    if values["retry.initial_delay_ms"] > values["retry.max_delay_ms"]:
        raise ConfigError("setting retry.initial_delay_ms must not exceed retry.max_delay_ms")
    if values["db.backend"] == "hana" and not values["hana.user"]:
        raise ConfigError("setting hana.user (HANA_USER) is required for the hana backend")
