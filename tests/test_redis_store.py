"""RedisStore against a real redis-server: versions, the page lock, TTLs, notices, outages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from livetemplate import Application, MemoryStore, RedisStore
from livetemplate.errors import (
    LiveTemplateError,
    PageBusy,
    PageConflict,
    PageNotFound,
    StoreUnavailable,
)
from livetemplate.store import Catchup, Update
from tests.redis_server import RedisServer, free_port, redis_server

T = TypeVar("T")


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from redis_server(tmp_path_factory.mktemp("redis"))


def run(redis: RedisServer, test: Callable[[RedisStore], Awaitable[T]], **options: Any) -> T:
    """``test(store)`` in a fresh event loop, with a store of its own (a key prefix per test)."""
    return run_on(RedisStore(redis.url, prefix=f"t{free_port()}:", **options), test)


def run_on(store: RedisStore, test: Callable[[RedisStore], Awaitable[T]]) -> T:
    """``test(store)`` in a fresh event loop; the store is closed afterwards."""

    async def main() -> T:
        try:
            return await test(store)
        finally:
            await store.close()

    return asyncio.run(main())


def test_snapshots_and_deltas_are_versioned_and_fetched_only_when_newer(
        redis: RedisServer) -> None:
    async def test(store: RedisStore) -> None:
        assert await store.create("p", b"one", 60) == 1
        assert await store.fetch("p", 0, 60) == (1, Catchup(b"one", []))
        assert await store.fetch("p", 1, 60) == (1, None)  # up to date: nothing sent
        lock, version, catchup = await store.acquire("p", 0)
        assert (version, catchup) == (1, Catchup(b"one", []))
        assert await store.commit("p", lock, 1, Update(False, b"+a"), 60, "w") == 2
        lock, version, catchup = await store.acquire("p", 2)
        assert (version, catchup) == (2, None)
        assert await store.commit("p", lock, 2, None, 60, "w") == 2  # unchanged: released only
        lock, _, _ = await store.acquire("p", 2)
        assert await store.commit("p", lock, 2, Update(False, b"+b"), 60, "w") == 3
        assert await store.fetch("p", 2, 60) == (3, Catchup(None, [b"+b"]))
        assert await store.fetch("p", 1, 60) == (3, Catchup(None, [b"+a", b"+b"]))
        assert await store.fetch("p", -1, 60) == (3, Catchup(b"one", [b"+a", b"+b"]))
        lock, _, _ = await store.acquire("p", 3)
        assert await store.commit("p", lock, 3, Update(True, b"four"), 60, "w") == 4
        assert await store.fetch("p", 3, 60) == (4, Catchup(b"four", []))
        assert redis.command("EXISTS", store._log("p")) == b":0"  # the deltas went with it
        assert await store.fetch("missing", 0, 60) is None
        with pytest.raises(PageConflict):
            await store.create("p", b"again", 60)

    run(redis, test)


def test_the_lock_makes_the_second_writer_wait(redis: RedisServer) -> None:
    async def test(store: RedisStore) -> None:
        await store.create("p", b"0", 60)
        seen: list[tuple[int, Any]] = []

        async def writer(name: str) -> None:
            lock, version, catchup = await store.acquire("p", 0)
            seen.append((version, catchup))
            await asyncio.sleep(0.02)  # the other writer waits meanwhile
            await store.commit("p", lock, version, Update(True, name.encode()), 60, name)

        await asyncio.gather(writer("a"), writer("b"))
        # The second saw the first one's change, not version 1 again.
        assert sorted(version for version, _ in seen) == [1, 2]
        first = b"a" if seen[0][0] == 1 and seen[1][1].base == b"a" else b"b"
        assert dict(seen)[2] == Catchup(first, [])
        assert (await store.fetch("p", 0, 60) or (0, None))[0] == 3

    run(redis, test)


def test_a_lock_held_too_long_is_refused(redis: RedisServer) -> None:
    async def test(store: RedisStore) -> None:
        await store.create("p", b"0", 60)
        await store.acquire("p", 1)
        with pytest.raises(PageBusy, match="lock_wait"):
            await store.acquire("p", 1)

    run(redis, test, lock_wait=0.05)


def test_a_change_after_the_lease_ran_out_does_not_overwrite_a_newer_one(
        redis: RedisServer) -> None:
    async def test(store: RedisStore) -> None:
        await store.create("p", b"0", 60)
        slow, version, _ = await store.acquire("p", 1)
        await asyncio.sleep(0.08)  # the lease (50 ms) runs out
        fast, _, _ = await store.acquire("p", 1)
        assert await store.commit("p", fast, 1, Update(False, b"fast"), 60, "w") == 2
        with pytest.raises(PageConflict, match="lock_timeout"):
            await store.commit("p", slow, version, Update(False, b"slow"), 60, "w")
        assert await store.fetch("p", 0, 60) == (2, Catchup(b"0", [b"fast"]))

    run(redis, test, lock_timeout=0.05)


def test_pages_expire_unless_touched(redis: RedisServer) -> None:
    def ttl(store: RedisStore, page_id: str) -> int:
        reply = redis.command("TTL", store._page(page_id))
        assert reply is not None and reply.startswith(b":")
        return int(reply[1:])

    async def test(store: RedisStore) -> None:
        await store.create("gone", b"x", 1)
        await store.create("kept", b"x", 100)
        await store.create("idle", b"x", 100)
        await store.touch(["kept"], 500)
        assert ttl(store, "kept") > 400 and ttl(store, "idle") <= 100
        await store.fetch("idle", 1, 300)  # a use starts the TTL again
        assert ttl(store, "idle") > 200
        await asyncio.sleep(1.1)
        assert await store.fetch("gone", 0, 1) is None
        await store.delete("kept")
        assert await store.fetch("kept", 0, 60) is None
        with pytest.raises(PageNotFound):
            await store.acquire("kept", 0)

    run(redis, test)


def test_commits_are_announced_to_subscribers(redis: RedisServer) -> None:
    async def test(store: RedisStore) -> list[tuple[str, int, str]]:
        heard: list[tuple[str, int, str]] = []
        store.listen("w", lambda *notice: heard.append(notice), lambda error: None)
        await store.create("p", b"0", 60)
        await store.create("q", b"0", 60)
        await store.subscribe("p", "worker-b", 60)
        for page in ("p", "q"):
            lock, version, _ = await store.acquire(page, 1)
            await store.commit(page, lock, version, Update(False, b"1"), 60, "worker-a")
        lock, version, _ = await store.acquire("p", 2)
        await store.commit("p", lock, version, None, 60, "worker-a")  # unchanged: no notice
        lock, version, _ = await store.acquire("p", 2)
        await store.commit("p", lock, version, Update(False, b"2"), 60, "worker-b")  # b alone: no notice
        await asyncio.sleep(0.05)
        store.unsubscribe("p", "worker-b")
        await asyncio.sleep(0.05)
        lock, version, _ = await store.acquire("p", 3)
        await store.commit("p", lock, version, Update(True, b"3"), 60, "worker-a")
        await _until(lambda: bool(heard))
        await asyncio.sleep(0.05)  # time for a notice that should not come
        return heard

    assert run(redis, test) == [("p", 2, "worker-a")]


def test_an_unreachable_store_raises_store_unavailable() -> None:
    async def test(store: RedisStore) -> None:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            await store.fetch("p", 0, 60)
        with pytest.raises(StoreUnavailable):
            await store.touch(["p"], 60)

    run_on(RedisStore(f"redis://127.0.0.1:{free_port()}/0", socket_timeout=1.0), test)


def test_a_store_that_stops_answering_raises_store_unavailable_within_socket_timeout() -> None:
    """A Redis that accepts the connection and never replies (stalled, or a network that drops
    everything): the batch's deadline ends the wait, and the connection is not reused."""

    async def test() -> None:
        held: list[asyncio.StreamWriter] = []

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)  # read nothing, answer nothing

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        store = RedisStore(f"redis://127.0.0.1:{port}/0", socket_timeout=0.3)
        try:
            for _ in range(2):  # the second on a new connection: the first was dropped
                with pytest.raises(StoreUnavailable, match=r"unreachable \(TimeoutError"):
                    await store.fetch("p", 0, 60)
            assert len(held) == 2
        finally:
            await store.close()
            for writer in held:
                writer.close()
            server.close()
            await server.wait_closed()

    asyncio.run(test())


def test_the_listener_reports_the_outage_and_the_recovery(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    states: list[str] = []

    async def test(store: RedisStore) -> None:
        store.listen("w", lambda *notice: None,
                     lambda error: states.append("down" if error else "up"))
        await store.subscribe("p", "w", 60)
        await asyncio.to_thread(server.stop)
        await _until(lambda: states == ["down"])
        with pytest.raises(StoreUnavailable):
            await store.subscribe("q", "w", 60)
        await asyncio.to_thread(server.start)
        await _until(lambda: states == ["down", "up"])
        await store.subscribe("q", "w", 60)  # subscriptions work again

    try:
        run_on(RedisStore(server.url), test)
    finally:
        server.stop()


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVETEMPLATE_REDIS_URL", "redis://:pw@127.0.0.1:1/0")
    app = Application(secret="s")
    assert isinstance(app.store, RedisStore)
    assert "pw" not in repr(app.store)  # logs never show the password
    monkeypatch.delenv("LIVETEMPLATE_REDIS_URL")
    assert isinstance(Application(secret="s").store, MemoryStore)


def test_a_shared_store_needs_a_configured_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVETEMPLATE_SECRET", raising=False)
    with pytest.raises(LiveTemplateError, match="LIVETEMPLATE_SECRET"):
        Application(store=RedisStore("redis://127.0.0.1:1/0"))


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_a_worker_keeps_the_lock_between_its_changes_and_gives_it_back_when_idle(
        redis: RedisServer) -> None:
    async def test(store: RedisStore) -> None:
        calls: list[str] = []
        run_script = store._run

        async def counted(script: str, keys: list[str], args: list[Any]) -> Any:
            calls.append(script)
            return await run_script(script, keys, args)

        store._run = counted  # type: ignore[method-assign]
        store.listen("w", lambda *notice: None, lambda error: None)  # hears requests for it
        await store.create("p", b"0", 60)
        version = 1
        for i in range(3):
            lock, version, _ = await store.acquire("p", version)
            version = await store.commit("p", lock, version, Update(False, b"%d" % i), 60, "w")
        # One round trip per change once the lock is kept: the first acquire only.
        assert calls == ["create", "acquire", "commit", "commit", "commit"]
        assert redis.command("EXISTS", store._lock("p")) == b":1"  # kept
        await asyncio.sleep(0.3)  # idle for longer than keep: given back
        assert redis.command("EXISTS", store._lock("p")) == b":0"
        lock, version, catchup = await store.acquire("p", version)
        assert (version, catchup) == (4, None) and calls[-1] == "acquire"
        await store.commit("p", lock, version, None, 60, "w")

    run(redis, test, keep=0.05)


def test_another_worker_asks_for_a_kept_lock_and_gets_it(redis: RedisServer) -> None:
    prefix = f"t{free_port()}:"

    async def test(a: RedisStore) -> None:
        b = RedisStore(redis.url, prefix=prefix, keep=30.0)
        for store in (a, b):
            store.listen("w", lambda *notice: None, lambda error: None)
        await asyncio.sleep(0.2)  # both listeners subscribed
        await a.create("p", b"0", 60)
        lock, version, _ = await a.acquire("p", 1)
        await a.commit("p", lock, version, Update(False, b"a"), 60, "a")  # a keeps the lock
        assert redis.command("EXISTS", a._lock("p")) == b":1"
        loop = asyncio.get_running_loop()
        started = loop.time()
        lock, version, catchup = await b.acquire("p", 1)  # asks a, which gives it back
        assert loop.time() - started < 5.0  # long before a's keep (30 s) ran out
        assert (version, catchup) == (2, Catchup(None, [b"a"]))
        await b.commit("p", lock, version, Update(False, b"b"), 60, "b")
        # a's kept state is stale now: its next change asks Redis and catches up.
        lock, version, catchup = await a.acquire("p", 2)
        assert (version, catchup) == (3, Catchup(None, [b"b"]))
        await a.commit("p", lock, version, None, 60, "a")
        await b.close()

    run_on(RedisStore(redis.url, prefix=prefix, keep=30.0), test)


def test_a_long_change_on_a_kept_lock_has_its_lease_renewed(redis: RedisServer) -> None:
    async def test(store: RedisStore) -> None:
        store.listen("w", lambda *notice: None, lambda error: None)
        await store.create("p", b"0", 60)
        lock, version, _ = await store.acquire("p", 1)
        version = await store.commit("p", lock, version, Update(False, b"a"), 60, "w")
        assert store._kept["p"].version == 2
        lock, version, _ = await store.acquire("p", version)  # the kept lock: 0.2 s lease
        await asyncio.sleep(0.3)  # past the kept lease: renewed to lock_timeout meanwhile
        assert redis.command("EXISTS", store._lock("p")) == b":1"
        assert await store.commit("p", lock, version, Update(False, b"b"), 60, "w") == 3

    run(redis, test, keep=0.05, keep_lease=0.2)


def test_the_test_server_moves_off_a_port_another_redis_holds(
        redis: RedisServer, tmp_path: Path) -> None:
    """Tests of other checkouts run beside these: a RedisServer whose free port was taken
    before it bound must not mistake the other server for its own."""
    other = RedisServer(tmp_path)
    other.port, other.url = redis.port, redis.url  # as if free_port() had raced
    try:
        other.start()
        assert other.port != redis.port and other.url != redis.url
        assert other.proc is not None and other._pid() == other.proc.pid != redis._pid()
        other.stop()
        other.start()  # a restart keeps its port
        assert other._pid() == other.proc.pid
    finally:
        other.stop()
