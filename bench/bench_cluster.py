"""The cluster benchmark's app and measurements (``python -m bench.cluster_report`` runs them).

The app is the W1 counter on the store ``Application`` picks (``LIVETEMPLATE_REDIS_URL`` set:
Redis, else in-process). Routes: ``GET /`` makes a page and serves it (Pattern 2: the page lives
on and any worker finds it by its token), ``/ws`` serves such a page, ``/w1`` makes a page per
connection (Pattern 1, as in ``bench_server``), ``/stats`` reports CPU and GC time.
``tests/test_cluster.py`` runs two of these processes against one Redis.

Measured, each worker its own uvicorn process (``bench_server.Server``):

- fan-out latency: one page, client X on worker A and client Y on worker B; X sends an action
  and waits for its reply, the time until Y receives the update is the cross-worker latency
  (X's own round trip is shown beside it);
- throughput: connections each with its own page, sending actions back to back, all on one
  worker, then split over two.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.bench_server import GcTimer, Run, Server, W1Counter, measure
from bench.workloads import W1_TEMPLATE

FACTORY = "bench.bench_cluster:make_app"


class SharedCounter(W1Counter):
    """The W1 counter with the actions the cluster tests need (module level: picklable)."""

    async def slow_increment(self) -> None:
        seen = self.count
        await asyncio.sleep(0.002)  # without the page lock, another worker's action lands here
        self.count = seen + 1

    def set(self, ctx: Any) -> None:
        self.count = ctx.get_int("value")

    async def hang(self) -> None:
        """Change the count, then never finish (the worker is killed mid-action in a test)."""
        self.count = 999
        await asyncio.sleep(3600)


def make_app() -> Starlette:
    from livetemplate import Application, Limits

    # CLUSTER_LOCK_TIMEOUT: a short page-lock lease, for the test that kills a worker mid-action
    lease = os.environ.get("CLUSTER_LOCK_TIMEOUT")
    store = None
    if lease:
        from livetemplate import RedisStore

        store = RedisStore(os.environ["LIVETEMPLATE_REDIS_URL"], lock_timeout=float(lease))
    live = Application(store=store, limits=Limits(rate=None, max_pages=10_000))
    live.add_template("w1", W1_TEMPLATE)
    timer = GcTimer()

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"cpu": time.process_time(), "gc": timer.total,
                             "collections": timer.collections, "pages": live.page_count,
                             "pid": os.getpid()})

    async def index(request: Request) -> Response:
        return live.new_page("w1", SharedCounter()).serve_http(request)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await live.close()  # the Redis listener and connections, for a clean exit

    return Starlette(
        routes=[
            Route("/", index),
            Route("/stats", stats),
            *live.routes("/ws"),
            *live.routes("/w1", new_page=lambda ws: live.new_page("w1", SharedCounter())),
        ],
        lifespan=lifespan,
    )


def cluster_env(redis_url: str | None) -> dict[str, str]:
    env = {"LIVETEMPLATE_SECRET": "bench-cluster"}
    if redis_url is not None:
        env["LIVETEMPLATE_REDIS_URL"] = redis_url
    return env


def new_page_token(server: Server) -> str:
    """``GET /`` on ``server``: a new Pattern 2 page; its token."""
    with urllib.request.urlopen(f"{server.http}/", timeout=10) as response:
        html = response.read().decode()
    return html.split('name="livetemplate-token" content="')[1].split('"')[0]


INCREMENT = json.dumps({"type": "action", "action": "increment", "data": {}})


@dataclass
class FanOut:
    round_trips: list[float] = field(default_factory=list)  # X's action to X's reply, on A
    crossings: list[float] = field(default_factory=list)  # X's action to Y's update, on B

    @staticmethod
    def quantile(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6 if ordered else 0.0

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) * 1e6 if values else 0.0


async def fan_out(a: Server, b: Server, actions: int, seconds: float) -> FanOut:
    """One page, X on ``a`` and Y on ``b``; X acts, Y waits for each update."""
    from websockets.asyncio.client import connect

    token = new_page_token(a)
    result = FanOut()
    async with connect(f"{a.ws}/ws?cache_token={token}", compression=None) as x, \
            connect(f"{b.ws}/ws?cache_token={token}", compression=None) as y:
        for ws in (x, y):
            assert "tree" in json.loads(await ws.recv())
        perf = time.perf_counter
        deadline = perf() + seconds
        for _ in range(actions):
            if perf() >= deadline:
                break
            sent = perf()
            await x.send(INCREMENT)

            async def reply() -> float:
                await x.recv()
                return perf()

            async def update() -> float:
                message = await y.recv()
                if '"tree"' not in message:
                    raise RuntimeError(f"worker B sent {message[:200]!r}")
                return perf()

            replied, crossed = await asyncio.gather(reply(), update())
            result.round_trips.append(replied - sent)
            result.crossings.append(crossed - sent)
    return result


async def throughput(servers: list[Server], connections: int, seconds: float,
                     max_actions: int) -> Run:
    """``connections`` Pattern 1 connections split evenly over ``servers``, measured together."""
    share = connections // len(servers)
    runs = await asyncio.gather(*(measure(server.ws, server.http, "w1", share, seconds,
                                          max_actions) for server in servers))
    total = Run("w1", share * len(servers))
    for run in runs:
        total.latencies.extend(run.latencies)
        total.server_cpu += run.server_cpu
        total.server_gc += run.server_gc
        total.gc_collections += run.gc_collections
    total.actions = len(total.latencies)
    total.seconds = max(run.seconds for run in runs)
    return total


def test_cluster_round_trip(tmp_path: Any) -> None:
    from tests.redis_server import redis_server

    for redis in redis_server(tmp_path):
        env = cluster_env(redis.url)
        with Server(FACTORY, env) as a, Server(FACTORY, env) as b:
            result = asyncio.run(fan_out(a, b, 5, 5.0))
            assert len(result.crossings) == 5
            assert asyncio.run(throughput([a, b], 2, 0.2, 20)).actions > 0
