"""One-shot HANA initialisation for docker/compose.yaml: users, schema, roles, first API key.

Runs in the router image against the tenant database, and is idempotent (a second run changes
nothing and prints no key):

1. as SYSTEM: create the schema owner and the service user when missing; their passwords never
   expire (a technical user's password must not lapse under a running service);
2. as the schema owner: `model-router migrate` (tables, views and procedures in its schema);
3. sql/hana/roles.sql, which expects the objects to exist: its CREATE ROLE statements as SYSTEM
   (they need ROLE ADMIN, which neither router user holds; skipped when the role exists), its
   GRANTs as the owner (object privileges are the owner's to grant), SELECT on yoyo's migration
   history for the service's readiness check included;
4. as SYSTEM: GRANT ROUTER_APP to the service user;
5. as the service user: `model-router bootstrap`, which prints the first admin API key once.

The service then connects as the service user with HANA_SCHEMA set to the owner's schema, so it
holds exactly ROUTER_APP's privileges and cannot change the schema.

Environment: the router's own settings (HANA_HOST, HANA_PORT, HANA_ENCRYPT,
HANA_SSL_VALIDATE_CERTIFICATE, ...) plus INIT_ENV below. Passwords are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.config import load_config
from app.db import errors
from app.db.hana import HanaBackend
from app.db.sqlfiles import SQL_ROOT, parse_queries, split_statements

log = logging.getLogger("hana-init")

HERE = Path(__file__).resolve().parent
ROLES_FILE = SQL_ROOT / "hana" / "roles.sql"
APP_ROLE = "ROUTER_APP"
# Variables of this script, beside the router's settings (tests/test_docker.py checks both).
INIT_ENV = {
    "HXE_PASSWORDS_FILE": "/run/secrets/hxe_passwords",
    "ROUTER_OWNER_USER": "ROUTER",
    "ROUTER_OWNER_PASSWORD": None,
    "ROUTER_SERVICE_USER": "ROUTER_SVC",
    "ROUTER_SERVICE_PASSWORD": None,
    "INIT_TIMEOUT_S": "900",
}
USER_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,126}$")
PASSWORD = re.compile(r"^[A-Za-z0-9!#$%&()*+,./:;<=>?@\[\]^_{|}~-]{8,128}$")
CREATE_ROLE = re.compile(r"^CREATE\s+ROLE\s+([A-Z][A-Z0-9_]*)$", re.IGNORECASE)
GRANT = re.compile(r"^GRANT\s", re.IGNORECASE)


class InitError(RuntimeError):
    """A setting of the init is missing or unusable; the message names it."""


@dataclass(frozen=True)
class Account:
    user: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"Account({self.user})"


@dataclass(frozen=True)
class Plan:
    system: Account
    owner: Account
    service: Account
    timeout_s: float


def checked_user(name: str, value: str) -> str:
    if not USER_NAME.match(value):
        raise InitError(f"{name}: {value!r} is not an upper-case HANA identifier")
    return value


def checked_password(name: str, value: str) -> str:
    """HANA's default password policy (8+ characters, upper, lower, digit), and no quote or
    space: the password is written into CREATE USER, which cannot bind it as a parameter."""
    if not PASSWORD.match(value):
        raise InitError(f"{name}: 8-128 characters without quotes, backslashes or spaces")
    if not (re.search("[A-Z]", value) and re.search("[a-z]", value) and re.search("[0-9]", value)):
        raise InitError(f"{name}: needs an upper-case letter, a lower-case letter and a digit")
    return value


def system_password(path: Path) -> str:
    """The tenant's SYSTEM password from HANA Express's --passwords-url JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InitError(f"HXE_PASSWORDS_FILE {path}: {type(exc).__name__}") from None
    value = data.get("default_tenant_system_user_password") or data.get("master_password")
    if not isinstance(value, str) or not value:
        raise InitError(f"HXE_PASSWORDS_FILE {path}: no master_password")
    return value


def plan_from(env: Mapping[str, str]) -> Plan:
    def get(name: str) -> str:
        value = env.get(name, INIT_ENV[name])
        if not value:
            raise InitError(f"{name} is not set")
        return value

    owner = Account(
        checked_user("ROUTER_OWNER_USER", get("ROUTER_OWNER_USER")),
        checked_password("ROUTER_OWNER_PASSWORD", get("ROUTER_OWNER_PASSWORD")),
    )
    service = Account(
        checked_user("ROUTER_SERVICE_USER", get("ROUTER_SERVICE_USER")),
        checked_password("ROUTER_SERVICE_PASSWORD", get("ROUTER_SERVICE_PASSWORD")),
    )
    if owner.user == service.user:
        raise InitError("ROUTER_OWNER_USER and ROUTER_SERVICE_USER must differ")
    system = Account("SYSTEM", system_password(Path(get("HXE_PASSWORDS_FILE"))))
    return Plan(system, owner, service, float(get("INIT_TIMEOUT_S")))


def split_roles(text: str) -> tuple[list[str], list[str]]:
    """roles.sql → (roles it creates, its GRANT statements); anything else is an error, so a
    new kind of statement there cannot be skipped silently."""
    roles, grants = [], []
    for statement in split_statements(text):
        if match := CREATE_ROLE.match(statement):
            roles.append(match.group(1).upper())
        elif GRANT.match(statement):
            grants.append(statement)
        else:
            raise InitError(f"roles.sql: unexpected statement {statement[:60]!r}")
    return roles, grants


class Session:
    """One connection as one account, through the router's own HANA backend (timeouts, TLS)."""

    def __init__(self, account: Account, env: Mapping[str, str], schema: str = "") -> None:
        config = load_config(
            {
                "db.backend": "hana",
                "hana.user": account.user,
                "hana.password": account.password,
                "hana.schema": schema,
                "hana.database": env.get("HANA_DATABASE", ""),
            },
            env=env,
        )
        self.backend = HanaBackend.from_config(config)
        self.conn = self.backend.connect()

    def run(self, sql: str, params: tuple = ()) -> list[dict] | int:
        result = self.backend.execute(self.conn, sql, params)
        self.backend.commit(self.conn)
        return result

    def count(self, sql: str, value: str) -> int:
        return int(self.run(sql, (value,))[0]["n"])

    def close(self) -> None:
        self.conn.close()


def wait_for(connect: Callable[[], Session], timeout_s: float, pause_s: float = 5.0) -> Session:
    """Connect, retrying while the database is unreachable (HANA Express starts slowly)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return connect()
        except errors.DatabaseUnavailable as exc:
            if time.monotonic() + pause_s > deadline:
                raise InitError(f"HANA not reachable after {timeout_s:g} s: {exc}") from None
            log.info("waiting for HANA: %s", exc)
            time.sleep(pause_s)


def ensure_user(admin: Session, sql: dict, account: Account) -> None:
    if admin.count(sql["count-users"], account.user):
        log.info("user %s exists", account.user)
        return
    admin.run(sql["create-user"].format(user=account.user, password=account.password))
    admin.run(sql["disable-password-lifetime"].format(user=account.user))
    log.info("user %s created", account.user)


def apply_roles(admin: Session, owner: Session, sql: dict) -> None:
    roles, grants = split_roles(ROLES_FILE.read_text(encoding="utf-8"))
    for role in roles:
        if not admin.count(sql["count-roles"], role):
            admin.run(sql["create-role"].format(role=checked_user("roles.sql", role)))
            log.info("role %s created", role)
    for statement in grants:
        owner.run(statement)
    log.info("roles.sql applied: %d roles, %d grants", len(roles), len(grants))


def model_router(
    command: str, env: Mapping[str, str], account: Account, schema: str, **extra: str
) -> None:
    """Run `model-router <command>` as `account`, its password passed in the environment only."""
    child = {
        **env,
        "MODEL_ROUTER_DB_BACKEND": "hana",
        "HANA_USER": account.user,
        "HANA_PASSWORD": account.password,
        "HANA_SCHEMA": schema,
        **extra,
    }
    subprocess.run(["model-router", command], env=child, check=True)


def main(env: Mapping[str, str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    env = dict(os.environ if env is None else env)
    try:
        plan = plan_from(env)
        sql = parse_queries((HERE / "init.sql").read_text(encoding="utf-8"))
        admin = wait_for(lambda: Session(plan.system, env), plan.timeout_s)
        try:
            ensure_user(admin, sql, plan.owner)
            ensure_user(admin, sql, plan.service)
            model_router("migrate", env, plan.owner, "")
            owner = Session(plan.owner, env)
            try:
                apply_roles(admin, owner, sql)
            finally:
                owner.close()
            admin.run(sql["grant-role"].format(role=APP_ROLE, user=plan.service.user))
        finally:
            admin.close()
        model_router(
            "bootstrap",
            env,
            plan.service,
            plan.owner.user,
            MODEL_ROUTER_CATALOG=env.get("MODEL_ROUTER_CATALOG", ""),
        )
    except (InitError, errors.DatabaseError, subprocess.CalledProcessError) as exc:
        log.error("HANA initialisation failed: %s", exc)
        return 1
    log.info(
        "HANA initialised: the service connects as %s to schema %s",
        plan.service.user,
        plan.owner.user,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
