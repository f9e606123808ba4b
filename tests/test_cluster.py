"""Two real uvicorn processes on one real Redis: the pages are the same on both.

Each worker is ``uvicorn --factory bench.bench_cluster:make_app`` (the W1 counter: slot "1" is the
count, 5 on a new page) with ``LIVETEMPLATE_REDIS_URL`` set; clients are ``websockets``
connections and plain HTTP requests, as a browser's would be.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bench.bench_cluster import FACTORY, cluster_env, new_page_token
from bench.bench_server import Server
from tests.redis_server import RedisServer

TIMEOUT = 10.0


@dataclass
class Cluster:
    redis: RedisServer
    a: Server
    b: Server
    folder: Path

    def worker(self, name: str, port: int | None = None) -> Server:
        return Server(FACTORY, cluster_env(self.redis.url), port=port,
                      log=self.folder / f"{name}.log")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    redis = RedisServer(folder).start()
    env = cluster_env(redis.url)
    a = Server(FACTORY, env, log=folder / "a.log")
    b = Server(FACTORY, env, log=folder / "b.log")
    with ThreadPoolExecutor(2) as pool:  # both start at once: each takes a second or two
        list(pool.map(lambda server: server.__enter__(), (a, b)))
    found = Cluster(redis, a, b, folder)
    try:
        yield found
    finally:
        found.a.__exit__()
        found.b.__exit__()
        redis.stop()


def action(name: str, **data: Any) -> str:
    return json.dumps({"type": "action", "action": name, "data": data})


async def tab(server: Server, token: str, path: str = "/ws") -> ClientConnection:
    """A connection to the page of ``token``; its first message (the full tree) is read."""
    ws = await connect(f"{server.ws}{path}?cache_token={token}", compression=None)
    first = await receive(ws)
    assert "tree" in first, first
    return ws


async def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def until_message(ws: ClientConnection,
                        wanted: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """Messages up to and including the first ``wanted`` one."""
    seen: list[dict[str, Any]] = []
    while not seen or not wanted(seen[-1]):
        seen.append(await receive(ws))
    return seen


def count_is(value: int) -> Callable[[dict[str, Any]], bool]:
    return lambda message: message.get("tree", {}).get("1") == str(value)


def wait_for_log(server: Server, text: str) -> None:
    assert server.log is not None
    deadline = time.monotonic() + TIMEOUT
    while text not in server.log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} not in {server.log}"
        time.sleep(0.05)


def test_an_action_on_one_worker_updates_the_tabs_on_the_other(cluster: Cluster) -> None:
    async def test() -> None:
        token = new_page_token(cluster.a)
        x, y = await tab(cluster.a, token), await tab(cluster.b, token)
        await x.send(action("increment"))
        reply = await receive(x)
        assert reply["tree"] == {"1": "6"} and reply["meta"]["action"] == "increment"
        assert await receive(y) == {"tree": {"1": "6"}, "meta": {}}
        await y.send(action("set", value=42))
        assert (await receive(y))["tree"] == {"1": "42"}
        assert await receive(x) == {"tree": {"1": "42"}, "meta": {}}
        await x.close()
        await y.close()

    asyncio.run(test())


def test_a_page_made_on_one_worker_is_served_by_the_other(cluster: Cluster) -> None:
    token = new_page_token(cluster.a)
    request = urllib.request.Request(
        f"{cluster.b.http}/ws", data=action("increment").encode(), method="POST",
        headers={"X-LiveTemplate-Token": token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        reply = json.loads(response.read())
    assert reply["tree"]["1"] == "6" and "s" in reply["tree"]  # the POST answer: a full tree

    async def test() -> None:
        x = await tab(cluster.a, token)  # back on the first worker: it caught up
        await x.send(action("increment"))
        assert (await receive(x))["tree"] == {"1": "7"}
        await x.close()

    asyncio.run(test())


def test_concurrent_actions_on_both_workers_lose_no_update(cluster: Cluster) -> None:
    async def test() -> None:
        token = new_page_token(cluster.a)
        tabs = [await tab(server, token) for server in (cluster.a, cluster.a, cluster.b,
                                                        cluster.b)]
        for ws in tabs:  # 40 read-then-write actions at once, 20 from each worker
            for _ in range(10):
                await ws.send(action("slow_increment"))
        for ws in tabs:
            seen = await until_message(ws, count_is(5 + 40))
            assert not [m for m in seen if m.get("type") == "error"], seen
        for ws in tabs:
            await ws.close()

    asyncio.run(test())


def test_pages_survive_a_worker_crash_and_restart(cluster: Cluster) -> None:
    shared = new_page_token(cluster.a)

    async def before() -> str:
        x = await tab(cluster.a, shared)
        await x.send(action("set", value=70))
        await until_message(x, count_is(70))
        one = await connect(f"{cluster.a.ws}/w1", compression=None)  # a page per connection
        own = (await receive(one))["token"]
        await receive(one)
        await one.send(action("set", value=11))
        await until_message(one, count_is(11))
        return own

    own = asyncio.run(before())
    port = cluster.a.port
    assert cluster.a.proc is not None
    cluster.a.proc.kill()  # a crash: no shutdown, no goodbye
    cluster.a.proc.wait()
    cluster.a = cluster.worker("a2", port=port).__enter__()

    async def after() -> None:
        x = await connect(f"{cluster.a.ws}/ws?cache_token={shared}", compression=None)
        first = await receive(x)
        assert first["tree"]["1"] == "70" and "s" in first["tree"]  # a fresh full tree
        one = await connect(f"{cluster.a.ws}/w1?cache_token={own}", compression=None)
        first = await receive(one)  # the same page resumed: no new page token
        assert "type" not in first and first["tree"]["1"] == "11"
        await one.send(action("increment"))
        assert (await receive(one))["tree"] == {"1": "12"}
        for ws in (x, one):
            await ws.close()

    asyncio.run(after())


def test_redis_stopped_and_started_again(cluster: Cluster) -> None:
    token = new_page_token(cluster.a)

    async def test() -> None:
        x, y = await tab(cluster.a, token), await tab(cluster.b, token)
        await asyncio.to_thread(cluster.redis.stop, True)  # a snapshot: the data comes back
        for ws in (x, y):
            error = await receive(ws)
            assert error["code"] == "store_unavailable" and "unreachable" in error["message"]
        await x.send(action("increment"))
        refused = await receive(x)
        assert refused["code"] == "store_unavailable"
        for server in (cluster.a, cluster.b):
            wait_for_log(server, "is unreachable")
        await asyncio.to_thread(cluster.redis.start)
        for server in (cluster.a, cluster.b):
            await asyncio.to_thread(wait_for_log, server, "reachable again")
        await x.send(action("increment"))
        assert (await receive(x))["tree"] == {"1": "6"}  # the refused action changed nothing
        assert await receive(y) == {"tree": {"1": "6"}, "meta": {}}
        for ws in (x, y):
            await ws.close()

    asyncio.run(test())


def test_a_worker_killed_mid_action_leaves_the_last_stored_page(cluster: Cluster) -> None:
    # A worker whose page locks lease for 1 s, so the test need not wait the default 30 s.
    doomed = Server(FACTORY, {**cluster_env(cluster.redis.url), "CLUSTER_LOCK_TIMEOUT": "1"},
                    log=cluster.folder / "doomed.log").__enter__()
    token = new_page_token(cluster.a)

    async def test() -> None:
        x = await tab(doomed, token)
        y = await tab(cluster.b, token)
        await x.send(action("hang"))  # sets the count to 999, then never returns
        await asyncio.sleep(0.3)  # it holds the page's lock now
        assert doomed.proc is not None
        doomed.proc.kill()  # mid-action: nothing stored, the lock left to its lease
        doomed.proc.wait()
        await y.send(action("increment"))  # waits for the lease, then runs on the stored page
        seen = await until_message(y, lambda m: "tree" in m and m.get("meta", {}).get("action")
                                   == "increment")
        assert not [m for m in seen if m.get("type") == "error"], seen
        assert seen[-1]["tree"] == {"1": "6"}  # 5 + 1: the killed action's 999 was never stored
        fresh = await tab(cluster.b, token)  # a new tab gets the same, whole page
        await fresh.send(action("increment"))
        assert (await receive(fresh))["tree"] == {"1": "7"}
        for ws in (y, fresh):
            await ws.close()

    try:
        asyncio.run(test())
    finally:
        doomed.__exit__()
