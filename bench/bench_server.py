"""The server benchmark's app and client loops (``python -m bench.server_report`` runs them).

The app, served by one uvicorn worker, has a bare Starlette WebSocket echo endpoint (``/echo``)
and two LiveTemplate endpoints, one page per connection (Pattern 1): ``/w1`` (the W1 counter)
and ``/w2`` (the W2 1,000-row todo list, toggling a random row per action).  ``/stats`` reports
the server's CPU and cyclic-GC time so the report can show what each action costs the server.

Collected by ``pytest bench/`` too: ``test_server_round_trip`` is a short smoke run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bench.workloads import W1_TEMPLATE, W2_TEMPLATE, W1Counter, w2_build
from lt_engine import track

ROOT = Path(__file__).resolve().parent.parent
ENDPOINTS = ("echo", "w1", "w2")


# --- the server --------------------------------------------------------------------------------


class W2Todos:
    def __init__(self) -> None:
        data = w2_build()
        self.title = data["title"]
        # A tracked list reports which row an action changed: the update checks that row only.
        self.todos = track(data["todos"])
        self.remaining = data["remaining"]

    def toggle(self, ctx: Any) -> None:
        todo = self.todos[ctx.get_int("id")]
        todo["done"] = not todo["done"]
        self.remaining += -1 if todo["done"] else 1


class GcTimer:
    """Wall time spent in the cyclic garbage collector, from ``gc.callbacks``: in all, the
    number of collections, the longest pause and the full (generation 2) collections."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self.longest = 0.0
        # the longest in CPU time: on a shared machine a pause's wall time also counts the time
        # the process waited for a core, which the collector did not cause
        self.longest_cpu = 0.0
        self.full = 0
        self._start = 0.0
        self._start_cpu = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            self._start_cpu = time.thread_time()
        else:
            pause = time.perf_counter() - self._start
            self.total += pause
            self.collections += 1
            self.longest = max(self.longest, pause)
            self.longest_cpu = max(self.longest_cpu, time.thread_time() - self._start_cpu)
            self.full += info["generation"] == 2


def make_app() -> Starlette:
    from livetemplate import Application, Limits

    live = Application(secret="bench", limits=Limits(rate=None, max_pages=10_000))
    live.add_template("w1", W1_TEMPLATE)
    live.add_template("w2", W2_TEMPLATE)
    timer = GcTimer()

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"cpu": time.process_time(), "gc": timer.total,
                             "collections": timer.collections, "pages": live.page_count})

    return Starlette(routes=[
        WebSocketRoute("/echo", echo),
        Route("/stats", stats),
        *live.routes("/w1", new_page=lambda ws: live.new_page("w1", W1Counter())),
        *live.routes("/w2", new_page=lambda ws: live.new_page("w2", W2Todos())),
    ])


# --- the client --------------------------------------------------------------------------------


@dataclass
class Run:
    endpoint: str
    connections: int
    actions: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    server_gc: float = 0.0
    gc_collections: int = 0
    reply_bytes: int = 0  # all replies' text, for bytes per reply
    rss_before: int = 0  # the server's resident memory before connecting, and with all open
    rss_open: int = 0

    @property
    def per_second(self) -> float:
        return self.actions / self.seconds if self.seconds else 0.0

    def latency_us(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6

    @property
    def median_us(self) -> float:
        return statistics.median(self.latencies) * 1e6 if self.latencies else 0.0


def message_for(endpoint: str, rng: random.Random) -> str:
    if endpoint == "w2":
        data: dict[str, Any] = {"id": rng.randrange(1000)}
        return json.dumps({"type": "action", "action": "toggle", "data": data})
    return json.dumps({"type": "action", "action": "increment", "data": {}})


class Gate:
    """Holds every connection until all are open, then gives them a shared deadline."""

    def __init__(self, connections: int) -> None:
        self.connections = connections
        self.waiting = 0
        self.all_open = asyncio.Event()
        self.go = asyncio.Event()
        self.deadline = float("inf")

    async def wait(self) -> None:
        self.waiting += 1
        if self.waiting == self.connections:
            self.all_open.set()
        await self.go.wait()


async def _one_connection(url: str, endpoint: str, max_actions: int, run: Run, gate: Gate,
                          seed: int) -> None:
    from websockets.asyncio.client import connect

    rng = random.Random(seed)
    async with connect(url, max_size=2**24, compression=None) as ws:
        if endpoint != "echo":
            first = json.loads(await ws.recv())
            assert first.get("type") == "page_token", first
            assert "tree" in json.loads(await ws.recv())
        await gate.wait()
        perf = time.perf_counter
        for _ in range(max_actions):
            if perf() >= gate.deadline:
                break
            text = message_for(endpoint, rng)
            sent = perf()
            await ws.send(text)
            reply = await ws.recv()
            run.latencies.append(perf() - sent)
            run.reply_bytes += len(reply)
            if endpoint != "echo" and '"tree"' not in reply:
                raise RuntimeError(f"unexpected reply from /{endpoint}: {reply[:200]!r}")


def server_stats(base: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as response:
        return json.loads(response.read())


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux ``/proc``), 0 where that is not available."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) * 1024


async def measure(base_ws: str, base_http: str, endpoint: str, connections: int,
                  seconds: float, max_actions: int, one_connection: Any = None,
                  pid: int | None = None) -> Run:
    """``connections`` clients, each sending one action and awaiting its reply in a loop, for
    ``seconds`` or ``max_actions`` per connection; every connection is open before timing.

    ``one_connection`` is the client loop (default: LiveTemplate's protocol; ``bench.peers``
    passes pyview's); with the server's ``pid`` its memory is read before and with all open.
    """
    run = Run(endpoint, connections)
    gate = Gate(connections)
    loop = one_connection or _one_connection
    if pid is not None:
        run.rss_before = rss_bytes(pid)
    tasks = [asyncio.ensure_future(loop(f"{base_ws}/{endpoint}", endpoint, max_actions, run,
                                        gate, i))
             for i in range(connections)]
    opened = asyncio.ensure_future(gate.all_open.wait())
    await asyncio.wait([opened, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=60)
    if not gate.all_open.is_set():
        gate.go.set()
        opened.cancel()
        await asyncio.gather(*tasks)  # raises what went wrong
        raise RuntimeError("connections did not open in time")
    if pid is not None:
        run.rss_open = rss_bytes(pid)
    before = server_stats(base_http)
    began = time.perf_counter()
    gate.deadline = began + seconds
    gate.go.set()
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - began
    after = server_stats(base_http)
    run.actions = len(run.latencies)
    run.server_cpu = after["cpu"] - before["cpu"]
    run.server_gc = after["gc"] - before["gc"]
    run.gc_collections = after["collections"] - before["collections"]
    return run


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``uvicorn --factory bench.bench_server:make_app``: one worker on loopback, own process.

    ``factory`` (an app factory with a ``/stats`` route), ``env`` (extra environment), ``port``
    (to start again where a stopped one was) and ``log`` (a file for its stderr) serve other
    benchmarks and tests (``bench/bench_cluster.py``, ``tests/test_cluster.py``).
    """

    def __init__(self, factory: str = "bench.bench_server:make_app",
                 env: dict[str, str] | None = None, port: int | None = None,
                 log: Path | None = None) -> None:
        self.factory = factory
        self.env = env or {}
        self.log = log
        self.port = port or free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.ws = f"ws://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        stderr = open(self.log, "ab") if self.log is not None else None  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", self.factory,
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
             "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stderr=stderr,
        )
        if stderr is not None:
            stderr.close()  # the child holds its own copy
        give_up = time.monotonic() + 30
        while True:
            try:
                server_stats(self.http)
                return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > give_up:
                    self.__exit__()
                    raise RuntimeError("the benchmark server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def test_server_round_trip() -> None:
    with Server() as server:
        for endpoint in ENDPOINTS:
            run = asyncio.run(measure(server.ws, server.http, endpoint, 2, 0.3, 20))
            assert run.actions > 0
