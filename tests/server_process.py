"""The real server in a subprocess, for the durability tests and the load benchmark.

`seed(folder)` builds what a deployed server finds: a SQLite database migrated by the real
migrations, a catalog and API keys. `ServerProcess` starts `model-router serve` (granian with the
production options of app/server.py) on a free loopback port in a process group of its own, so a
test can kill -9 the whole group, or send SIGTERM to the server's master process alone as an
orchestrator does. `Client` is a small JSON client over one keep-alive connection (one per thread).
`TcpProxy` is a stoppable loopback TCP proxy (after psycopg_pool's tests/fix_proxy.py): a real
network fault between a client and its server. `LockHolder` is a second process holding an
exclusive lock on the live SQLite file. `stored_ids` reads what the server committed.

Run as a script, this file is plain `model-router`: `app.db.database.make_backend` takes the
fault-injecting backend when MODEL_ROUTER_FAULT_FLAG names a flag file, so a test switches the
server's database off and on by creating and removing that file.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

CAPACITY = 100_000  # in-flight slots per model: load tests measure the writer, not capacity
AGENTS = ("chat-assistant", "code-reviewer", "summarizer")
_LOG_TAIL = 4000


def _model(model_id: str, capabilities: dict, latency_ms: float) -> dict:
    return {
        "id": model_id,
        "display_name": model_id,
        "provider": "ollama",
        "endpoint": f"http://127.0.0.1:11434/v1/{model_id}",
        "capabilities": capabilities,
        "context_window": 131072,
        "max_concurrency": CAPACITY,
        "cost_per_1k_tokens": 0.02,
        "prior_latency_ms": latency_ms,
        "status": "active",
    }


def _agent(agent_id: str, task_type: str, requirements: dict) -> dict:
    return {
        "id": agent_id,
        "display_name": agent_id,
        "task_type": task_type,
        "requirements": requirements,
        "min_context": 4096,
        "max_latency_ms": None,
        "max_cost_per_1k": None,
        "priority": 5,
        "status": "active",
    }


CATALOG = {
    "version": 1,
    "models": [
        _model("llama-8b", {"chat": 0.82, "coding": 0.62, "summarization": 0.78}, 900.0),
        _model("coder-7b", {"chat": 0.64, "coding": 0.86, "summarization": 0.62}, 850.0),
        _model("mistral-7b", {"chat": 0.76, "coding": 0.45, "summarization": 0.74}, 800.0),
        _model("phi-mini", {"chat": 0.66, "coding": 0.55, "summarization": 0.68}, 450.0),
    ],
    "agents": [
        _agent("chat-assistant", "chat", {"chat": 1.0, "summarization": 0.3}),
        _agent("code-reviewer", "coding", {"coding": 1.0, "chat": 0.2}),
        _agent("summarizer", "summarization", {"summarization": 1.0}),
    ],
}


# -- the database a server finds -----------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A migrated database with the catalog and a key per role, and the spool path beside it."""

    folder: Path
    db_path: Path
    spool_path: Path
    keys: dict[str, str]
    agents: tuple[str, ...] = AGENTS


def seed(folder: Path) -> Seeded:
    """Migrate a fresh SQLite database in `folder`, load CATALOG, make a router and an admin key."""
    from app.api.schemas import CatalogFile
    from app.catalog_file import import_catalog
    from app.config import load_config
    from app.db import deploy
    from app.db.database import Database
    from app.keys import KeyRing

    folder.mkdir(parents=True, exist_ok=True)
    db_path, spool_path = folder / "router.db", folder / "spool.db"
    config = load_config(
        {
            "sqlite.path": str(db_path),
            "spool.path": str(spool_path),
            "catalog.bootstrap_file": "",
            "pool.min_connections": 1,
        },
        env={},
    )
    db = Database.from_config(config)
    deploy.migrate(db.backend)
    db.start()
    try:
        import_catalog(db, CatalogFile.model_validate(CATALOG))
        ring = KeyRing(db)
        keys = {role: ring.create(role, f"durability {role}")[1] for role in ("router", "admin")}
    finally:
        db.close()
    return Seeded(folder, db_path, spool_path, keys)


def stored_ids(db_path: Path) -> tuple[set[str], set[str]]:
    """(decision ids, outcome ids) committed to the database file."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=10)) as conn:
        decisions = {r[0] for r in conn.execute("SELECT DECISION_ID FROM ROUTING_DECISIONS")}
        outcomes = {r[0] for r in conn.execute("SELECT DECISION_ID FROM INFERENCE_METRICS")}
    return decisions, outcomes


def applied_counts(db_path: Path) -> dict[str, int]:
    """What the procedures folded in, beside the raw outcome rows: each equals `outcomes` when
    every stored outcome was applied exactly once; `orphans` counts outcomes with no decision."""
    with contextlib.closing(sqlite3.connect(db_path, timeout=10)) as conn:

        def one(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]

        return {
            "outcomes": one("SELECT COUNT(*) FROM INFERENCE_METRICS"),
            "batched": one("SELECT COALESCE(SUM(OUTCOMES), 0) FROM OUTCOME_BATCHES"),
            "rolled_up": one("SELECT COALESCE(SUM(REQUESTS), 0) FROM MODEL_METRICS_HOURLY"),
            "orphans": one(
                "SELECT COUNT(*) FROM INFERENCE_METRICS m LEFT JOIN ROUTING_DECISIONS d "
                "ON d.DECISION_ID = m.DECISION_ID WHERE d.DECISION_ID IS NULL"
            ),
        }


def spool_depth(spool_path: Path) -> int:
    """Rows waiting in the spool file (0 when the file does not exist yet)."""
    if not spool_path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(spool_path, timeout=10)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM spool").fetchone()[0]
        except sqlite3.OperationalError:  # created, schema not yet written
            return 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the server process --------------------------------------------------------------------------


class ServerProcess:
    """`model-router serve` on a free loopback port, in its own process group.

    `env` adds settings (MODEL_ROUTER_*, HANA_*) to the seeded paths; `fault_flag` turns on the
    fault-injecting backend, whose database is down while that file exists. Output goes to
    `log_path`, appended across starts. A context manager: leaving it stops the server.
    """

    def __init__(
        self,
        seeded: Seeded,
        env: dict[str, str] | None = None,
        *,
        fault_flag: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.seeded = seeded
        self.extra_env = dict(env or {})
        self.fault_flag = fault_flag
        self.log_path = log_path or seeded.folder / "server.log"
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    # lifecycle ---------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HANA_", "MODEL_ROUTER_"))}
        env.update(
            PYTHONUNBUFFERED="1",
            MODEL_ROUTER_DB_BACKEND="sqlite",
            MODEL_ROUTER_SQLITE_PATH=str(self.seeded.db_path),
            MODEL_ROUTER_SPOOL_PATH=str(self.seeded.spool_path),
            MODEL_ROUTER_CATALOG="",
        )
        if self.fault_flag is not None:
            env["MODEL_ROUTER_FAULT_FLAG"] = str(self.fault_flag)
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start and wait until /healthz answers; RuntimeError (with the log) if it does not."""
        self.port, self.returncode = free_port(), None
        argv = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start on port {self.port} ===\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), *argv],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: kill -9 reaches the worker too
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log_tail()}")
            with (
                contextlib.suppress(OSError, http.client.HTTPException),
                self.client(key=None, timeout=1.0) as probe,
            ):
                if probe.get("/healthz").status == 200:
                    return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server not healthy within {timeout} s:\n{self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def workers(self) -> list[int]:
        """Pids of the server's worker processes (children of the master)."""
        return [pid for pid, ppid in _processes() if ppid == self.pid]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the master process only (the worker hears it from the master)."""
        os.kill(self.pid, signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """The master's exit code; subprocess.TimeoutExpired if it is still running."""
        assert self.proc is not None, "not started"
        self.returncode = self.proc.wait(timeout)
        return self.returncode

    def kill(self) -> None:
        """kill -9 the whole process group (master and worker), and wait until it is gone."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.returncode = self.proc.wait(10)
        deadline = time.monotonic() + 10
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> int | None:
        """Graceful stop (SIGTERM, wait), kill -9 if it does not end in `timeout`."""
        if not self.running():
            return self.returncode
        self.terminate()
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.returncode

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # talking to it -----------------------------------------------------------------------------

    def client(self, role: str | None = "router", *, key: str | None = "", timeout: float = 10.0):
        """A Client sending the seeded key of `role` (key=None: no key)."""
        if key == "":
            key = self.seeded.keys[role] if role else None
        return Client(self.port, key, timeout)

    def ready(self, timeout: float = 10.0) -> tuple[int, dict]:
        with self.client(key=None, timeout=timeout) as client:
            response = client.get("/readyz")
        return response.status, response.body

    def writer_figures(self) -> dict:
        with self.client("admin") as client:
            response = client.get("/api/v1/system/db")
        assert response.status == 200, response
        return response.body["writer"]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self) -> str:
        return self.log()[-_LOG_TAIL:]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2 :].split()


def _processes():
    """(pid, ppid) of every process that is not a zombie."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat(int(entry.name))
            except OSError:
                continue
            if fields[0] != "Z":
                yield int(entry.name), int(fields[1])


def _group_alive(pgid: int) -> bool:
    """Is any process of the group still running (zombies do not count)?"""
    for pid, _ in _processes():
        with contextlib.suppress(OSError):
            if int(_stat(pid)[2]) == pgid:
                return True
    return False


# -- a client --------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: object
    seconds: float = 0.0


@dataclass
class Client:
    """JSON over one keep-alive HTTP/1.1 connection; never retries (a POST is not idempotent).

    Raises OSError or http.client.HTTPException when the server does not answer; the connection
    is then closed, and the next request opens a new one. A connection idle for IDLE_S is not
    reused: the server may close an idle one at any moment, and a request sent into that
    close would fail without the server ever reading it.
    """

    IDLE_S = 2.0

    port: int
    key: str | None = None
    timeout: float = 10.0
    _conn: http.client.HTTPConnection | None = field(default=None, repr=False)
    _used_at: float = field(default=0.0, repr=False)

    def request(self, method: str, path: str, body: dict | None = None) -> Response:
        headers = {"Accept": "application/json"}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        if self._conn is not None and started - self._used_at > self.IDLE_S:
            self.close()
        if self._conn is None:
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            self._conn.request(method, path, body=data, headers=headers)
            answer = self._conn.getresponse()
            raw = answer.read()
        except BaseException:
            self.close()
            raise
        self._used_at = time.monotonic()
        seconds = self._used_at - started
        if answer.will_close:
            self.close()
        parsed = json.loads(raw) if raw and "json" in answer.getheader("Content-Type", "") else raw
        headers = {k.lower(): v for k, v in answer.getheaders()}
        return Response(answer.status, headers, parsed, seconds)

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, body: dict) -> Response:
        return self.request("POST", path, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- a stoppable TCP proxy ----------------------------------------------------------------------


class TcpProxy:
    """Forwards TCP connections from a loopback port to (host, port) until stopped.

    stop() closes the listening socket and every open connection on both sides, so clients see
    a reset (or EOF) and new connections are refused; start() listens on the same port again.
    `forwarded` counts bytes sent upstream, which shows that traffic really went through.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.forwarded = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.05)
        self._listener = listener
        self._stopping.clear()
        self._spawn(self._accept_loop, listener)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = list(self._sockets), set()
        if listener is not None:
            listener.close()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(2)
        self._threads = [t for t in self._threads if t.is_alive()]

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="tcp-proxy")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed by stop()
            try:
                upstream = socket.create_connection(self.target, timeout=2.0)
            except OSError:
                downstream.close()  # the target is down: the client sees its connection end
                continue
            for sock in (downstream, upstream):
                sock.settimeout(None)
            with self._lock:
                if self._stopping.is_set():
                    downstream.close()
                    upstream.close()
                    return
                self._sockets.update((downstream, upstream))
                self.connections += 1
            self._spawn(self._pump, downstream, upstream, True)
            self._spawn(self._pump, upstream, downstream, False)

    def _pump(self, source: socket.socket, sink: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if upstream:
                    with self._lock:
                        self.forwarded += len(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)  # pass the EOF on


# -- a lock held by another process -------------------------------------------------------------

_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("SELECT COUNT(*) FROM ROUTING_DECISIONS").fetchone()
print("held", flush=True)
sys.stdin.read()
conn.execute("ROLLBACK")
"""


class LockHolder:
    """A second process holding `BEGIN EXCLUSIVE` on a live SQLite file until release(): what a
    DBA's long write transaction, a backup tool or a long DDL does to the router. In WAL mode
    that blocks writers only: readers go on reading the last commit. (locking_mode=EXCLUSIVE
    would shut readers out too, but cannot be taken while the router has the file open.)"""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.proc: subprocess.Popen | None = None

    def hold(self, timeout: float = 10.0) -> LockHolder:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD_LOCK, str(self.db_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        timer = threading.Timer(timeout, self.proc.kill)  # a holder that never gets the lock
        timer.start()
        try:
            line = self.proc.stdout.readline()
        finally:
            timer.cancel()
        if line.strip() != "held":
            code = self.proc.poll()
            self.release()
            raise RuntimeError(f"the lock holder did not get the lock (exit {code})")
        return self

    def release(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        proc.stdin.close()
        proc.wait(10)
        proc.stdout.close()

    def __enter__(self) -> LockHolder:
        return self.hold()

    def __exit__(self, *exc: object) -> None:
        self.release()


# -- the server's entry point ----------------------------------------------------------------------


if __name__ == "__main__":
    from app.cli import main  # make_backend picks the fault backend from MODEL_ROUTER_FAULT_FLAG

    sys.exit(main(sys.argv[1:]))
