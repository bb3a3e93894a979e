"""The worker's front: request bodies are read on the event loop, the app runs on a thread pool.

Why: granian has no body read timeout (emmett-framework/granian#728, wontfix), and under its WSGI
interface the body is read by the WSGI thread itself, so a client that sends `Content-Length: 200`
and then one byte every 2 s holds a thread for as long as it likes; 33 of them took all 32
threads and /healthz stopped answering (issue 14). Under granian's RSGI interface this class
reads the whole body as an asyncio task, which costs a coroutine and no thread, within
`server.body_timeout_s` (else 408) and at most `api.max_body_bytes` (else 413, also for a chunked
body, which Flask would have cut at the limit and called invalid JSON). Only a request whose body
has fully arrived is handed to the WSGI app (Flask with app.api.hot_path in front) on a pool of
`server.threads` threads, with the body in memory: no slow client can hold one of them.

The WSGI environ is the one granian's WSGI interface builds (CGI names, repeated headers joined
with ","), minus granian's copy of the process environment. The answer is collected in the thread
and sent whole: the app streams nothing (no view returns a generator that waits).
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import logging
import math
import queue
import sys
import threading
from collections.abc import Callable

from app.problems import PROBLEM_JSON, problem_document

log = logging.getLogger(__name__)

_STATUS_408 = "Request Timeout"
SWEEP_S = 0.5  # how often late bodies are looked for: a body gets its timeout + up to this


class RequestFront:
    """An RSGI application (`__rsgi__`) in front of a WSGI callable."""

    def __init__(
        self,
        wsgi_app: Callable,
        *,
        threads: int,
        body_timeout_s: float,
        max_body_bytes: int,
        drain_timeout_s: float = 20.0,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.threads = threads
        self.body_timeout_s = body_timeout_s
        self.max_body_bytes = max_body_bytes
        self.drain_timeout_s = drain_timeout_s
        self._pool: WsgiThreads | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # every request being served -> the loop time its body must have arrived by (inf once
        # it has); one sweep every SWEEP_S cancels the late ones, which costs the hot path a
        # dict entry where asyncio.timeout's timer per request cost 6 % of the worker's CPU
        self._open: dict[asyncio.Task, float] = {}
        self._late: set[asyncio.Task] = set()
        self._sweeper: asyncio.TimerHandle | None = None
        self.timed_out = 0  # bodies refused with 408 (only the loop's thread counts them)

    @property
    def sweep_s(self) -> float:
        return min(SWEEP_S, self.body_timeout_s / 4)

    # -- granian's hooks -------------------------------------------------------------------------

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._pool = WsgiThreads(self.wsgi_app, loop, self.threads)
        self._sweeper = loop.call_later(self.sweep_s, self._sweep)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """granian stops running the loop when the stop signal arrives; the requests still being
        served get it back until they have answered (bounded), so a graceful stop finishes them."""
        if self._open:
            loop.run_until_complete(asyncio.wait(set(self._open), timeout=self.drain_timeout_s))
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._pool is not None:
            self._pool.stop()

    async def __rsgi__(self, scope, protocol) -> None:
        if scope.proto != "http":
            return
        task = asyncio.current_task(self._loop)
        self._open[task] = self._loop.time() + self.body_timeout_s
        try:
            await self._serve(scope, protocol, task)
        finally:
            del self._open[task]

    def _sweep(self) -> None:
        now = self._loop.time()
        for task, deadline in list(self._open.items()):
            if deadline <= now:
                self._open[task] = math.inf
                self._late.add(task)
                task.cancel()
        self._sweeper = self._loop.call_later(self.sweep_s, self._sweep)

    # -- one request -----------------------------------------------------------------------------

    async def _serve(self, scope, protocol, task: asyncio.Task) -> None:
        environ = environ_of(scope)
        try:
            body = await self._body(environ, protocol)
        except asyncio.CancelledError:
            if task not in self._late:
                raise
            self._late.discard(task)
            task.uncancel()
            self.timed_out += 1
            log.warning(
                "request body of %s %s not received within %g s; answered 408",
                scope.method,
                scope.path[:200],
                self.body_timeout_s,
            )
            protocol.response_bytes(*timeout_answer(scope.path, self.body_timeout_s))
            return
        self._open[task] = math.inf
        environ["wsgi.input"] = io.BytesIO(body)
        status, headers, payload = await self._pool.call(environ)
        protocol.response_bytes(status, headers, payload)

    async def _body(self, environ: dict, protocol) -> bytes:
        """The whole body; cut after the limit, where Flask answers 413 as for a stated
        Content-Length past it."""
        length = environ.get("CONTENT_LENGTH")
        chunked = "HTTP_TRANSFER_ENCODING" in environ
        if not chunked:
            if not length or length == "0":
                return b""
            if length.isdigit() and int(length) > self.max_body_bytes:
                return b""  # Flask refuses it by its Content-Length, reading nothing
            return await protocol()
        parts, size = [], 0
        async for chunk in protocol:
            parts.append(chunk)
            size += len(chunk)
            if size > self.max_body_bytes:
                break
        del environ["HTTP_TRANSFER_ENCODING"]
        environ["CONTENT_LENGTH"] = str(size)
        return b"" if size > self.max_body_bytes else b"".join(parts)


class WsgiThreads:
    """A fixed pool of threads running the WSGI app, fed from the event loop.

    Not concurrent.futures: its per-call Condition and idle semaphore, taken on the loop's thread
    while the pool's threads contend for the same locks and the GIL, cost the worker half again
    its CPU per request (bench.load: 938 -> 1458 us per pair). A SimpleQueue in, and answers
    back through one deque that a single loop wake-up drains (a wake-up per answer cost a
    self-pipe write and a loop turn each), cost 5 to 30 % more than the WSGI interface
    (docs/PERFORMANCE_BENCHMARKS.md).
    """

    def __init__(self, app: Callable, loop: asyncio.AbstractEventLoop, threads: int) -> None:
        self._app = app
        self._loop = loop
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        # answers on their way back to the loop; one wake-up drains all that arrived meanwhile
        self._done: collections.deque = collections.deque()
        self._drain_due = False
        self._due_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"wsgi-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def call(self, environ: dict) -> asyncio.Future:
        """The app's (status code, headers, body) for `environ`, as a future of the loop."""
        future = self._loop.create_future()
        self._jobs.put((environ, future))
        return future

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            environ, future = job
            try:
                self._settle(future, call_wsgi(self._app, environ), None)
            except BaseException as exc:  # the app's own handlers answer errors; this is a bug
                log.exception("WSGI app raised on %s", environ.get("PATH_INFO", "")[:200])
                self._settle(future, None, exc)

    def _settle(self, future: asyncio.Future, answer, error: BaseException | None) -> None:
        """Hand an answer back: wakes the loop only when no drain is already due."""
        self._done.append((future, answer, error))
        with self._due_lock:
            if self._drain_due:
                return
            self._drain_due = True
        self._loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        with self._due_lock:
            self._drain_due = False  # before popping: a later answer schedules the next drain
        while self._done:
            future, answer, error = self._done.popleft()
            if future.done():  # the request's task was cancelled meanwhile
                continue
            if error is None:
                future.set_result(answer)
            else:
                future.set_exception(error)


def environ_of(scope) -> dict:
    """The WSGI environ of an RSGI scope, as granian's WSGI interface makes it."""
    server_host, _, server_port = scope.server.rpartition(":")
    client_host, _, client_port = scope.client.rpartition(":")
    environ = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # WSGI strings are latin-1 carriers of the raw bytes; granian gives the decoded path
        "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": server_host,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "SERVER_SOFTWARE": "Granian",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": client_host.strip("[]"),
        "REMOTE_PORT": client_port,
        "wsgi.url_scheme": scope.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        elif key in environ:
            continue  # the first Content-Type / Content-Length counts, as granian's WSGI does
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def call_wsgi(app: Callable, environ: dict) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run the WSGI app (in a pool thread); its (status code, headers, whole body)."""
    started: list = []
    written: list[bytes] = []

    def start_response(status: str, headers: list, exc_info=None):
        if exc_info is not None and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started[:] = [status, headers]
        return written.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            written.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    return int(status[:3]), headers, b"".join(written)


def timeout_answer(path: str, timeout_s: float) -> tuple[int, list[tuple[str, str]], bytes]:
    """408 problem+json for a body that did not arrive in time; the connection is closed (the
    rest of the body may still be on its way)."""
    detail = f"the request body did not arrive within {timeout_s:g} s"
    body = json.dumps(problem_document(408, _STATUS_408, detail, path)).encode()
    headers = [("Content-Type", PROBLEM_JSON), ("Connection", "close")]
    return 408, headers, body
