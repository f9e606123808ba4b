"""The store interface, as both implementations in this repository keep it: the in-process
``MemoryStore`` and ``FakeSharedStore`` (Redis's contract in memory; tests/test_redis_store.py
holds ``RedisStore`` to the same rules on a real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from livetemplate import (
    MemoryStore,
    PageBusy,
    PageConflict,
    PageNotFound,
    PageStore,
    RedisStore,
    SharedStore,
)
from livetemplate.page import Suspended, run_now
from livetemplate.store import Catchup, Update
from tests.fake_shared_store import FakeSharedStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


STORES: dict[str, Callable[[], PageStore]] = {
    "memory": lambda: MemoryStore(lease_wait=0.05),
    "shared": lambda: FakeSharedStore(lock_wait=0.05),
}


@pytest.fixture(params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> PageStore:
    return STORES[request.param]()


def test_versions_leases_and_commits(store: PageStore) -> None:
    async def test() -> None:
        assert await store.create("p", b"one", 60) == 1
        assert await store.fetch("p", 1, 60) == (1, None)  # up to date: nothing to catch up
        assert await store.fetch("p", 0, 60) == (1, Catchup(b"one", []))
        lease, version, catchup = await store.acquire("p", 0)
        assert (version, catchup) == (1, Catchup(b"one", []))
        assert await store.commit("p", lease, 1, Update(False, b"+a"), 60, "me") == 2
        lease, version, catchup = await store.acquire("p", 2)
        assert (version, catchup) == (2, None)
        assert await store.commit("p", lease, 2, None, 60, "me") == 2  # nothing new: released
        lease, version, _ = await store.acquire("p", 2)
        assert await store.commit("p", lease, 2, Update(False, b"+b"), 60, "me") == 3
        # A copy at a version after the snapshot gets the deltas after its version; an older
        # one (or one that lost track: -1) the snapshot and every delta after it.
        assert await store.fetch("p", 2, 60) == (3, Catchup(None, [b"+b"]))
        assert await store.fetch("p", 1, 60) == (3, Catchup(None, [b"+a", b"+b"]))
        assert await store.fetch("p", -1, 60) == (3, Catchup(b"one", [b"+a", b"+b"]))
        # A snapshot replaces the snapshot and the deltas before it.
        lease, version, _ = await store.acquire("p", 3)
        assert await store.commit("p", lease, 3, Update(True, b"four"), 60, "me") == 4
        assert await store.fetch("p", 2, 60) == (4, Catchup(b"four", []))
        assert await store.fetch("p", 4, 60) == (4, None)
        assert await store.fetch("gone", 0, 60) is None
        with pytest.raises(PageNotFound):
            await store.acquire("gone", 0)

    asyncio.run(test())


def test_a_lease_is_waited_for_and_a_late_commit_is_refused(store: PageStore) -> None:
    async def test() -> None:
        await store.create("p", b"one", 60)
        lease, version, _ = await store.acquire("p", 1)
        with pytest.raises(PageBusy):  # held, and not given back within the wait
            await store.acquire("p", 1)
        await store.commit("p", lease, version, Update(True, b"two"), 60, "a")
        # A commit on a version that is no longer the page's changes nothing.
        lease, _, _ = await store.acquire("p", 2)
        with pytest.raises(PageConflict):
            await store.commit("p", lease, 1, Update(True, b"stale"), 60, "b")
        assert await store.fetch("p", 0, 60) == (2, Catchup(b"two", []))

    asyncio.run(test())


def test_notices_reach_the_other_subscribed_workers_only(store: PageStore) -> None:
    heard: dict[str, list[tuple[str, int, str]]] = {"a": [], "b": []}

    async def test() -> None:
        for worker in ("a", "b"):
            store.listen(worker, lambda *notice, w=worker: heard[w].append(notice),  # type: ignore[misc]
                         lambda error: None)
        await store.create("p", b"one", 60)
        await store.subscribe("p", "a", 60)
        await store.subscribe("p", "b", 60)
        lease, version, _ = await store.acquire("p", 1)
        await store.commit("p", lease, version, Update(False, b"two"), 60, "a")
        await asyncio.sleep(0.01)
        store.unsubscribe("p", "b")
        lease, version, _ = await store.acquire("p", 2)
        await store.commit("p", lease, version, Update(False, b"three"), 60, "a")
        await asyncio.sleep(0.01)

    asyncio.run(test())
    assert heard == {"a": [], "b": [("p", 2, "a")]}


def test_delete_and_touch(store: PageStore) -> None:
    async def test() -> None:
        await store.create("p", b"one", 60)
        await store.touch(["p", "missing"], 60)
        await store.delete("p")
        assert await store.fetch("p", 0, 60) is None

    asyncio.run(test())


def test_the_memory_store_expires_records_after_their_time_to_live() -> None:
    clock = Clock()
    store = MemoryStore(clock)

    async def test() -> None:
        await store.create("old", "record", 100)
        await store.create("kept", "record", 100)
        clock.now += 60
        await store.touch(["kept"], 100)
        clock.now += 60
        assert await store.fetch("old", 0, 100) is None
        assert await store.fetch("kept", 0, 100) == (1, Catchup("record", []))
        clock.now += 500
        await store.create("new", "record", 100)  # sweeps what expired
        assert len(store) == 1

    asyncio.run(test())


def test_the_memory_store_answers_sync_code_without_suspending() -> None:
    store = MemoryStore(lease_wait=1.0)
    assert run_now(store.create("p", "rec", 60)) == 1
    assert run_now(store.fetch("p", 0, 60)) == (1, Catchup("rec", []))
    lease, _, _ = run_now(store.acquire("p", 1))
    with pytest.raises(PageBusy):  # another holder's lease, and no event loop to wait in
        run_now(store.acquire("p", 1))

    async def in_a_loop() -> None:
        with pytest.raises(Suspended):  # this call would wait: closed, nothing taken
            run_now(store.acquire("p", 1))

    asyncio.run(in_a_loop())
    assert run_now(store.commit("p", lease, 1, Update(True, "rec2"), 60, "")) == 2
    assert run_now(store.acquire("p", 2))[1:] == (2, None)


def test_every_store_is_one_interface() -> None:
    assert SharedStore is PageStore
    for cls in (MemoryStore, FakeSharedStore, RedisStore):
        assert issubclass(cls, PageStore)
    assert MemoryStore.in_process and not RedisStore.in_process
