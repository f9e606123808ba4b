"""An in-memory store of sealed records (:class:`~livetemplate.store.PageStore`): Redis's
contract without Redis.

Page and endpoint tests run on it to cover the shared-store page path at in-process speed;
``tests/test_pages_redis.py`` and ``tests/test_cluster.py`` run the same path on a real Redis. Several
``FakeSharedStore`` objects on one :class:`Backend` act as several workers (each has its own
listener), as several ``RedisStore`` objects on one server do.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from livetemplate.errors import PageBusy, PageConflict, PageNotFound
from livetemplate.store import Catchup, Notice, PageStore, StoreState, Update


@dataclass
class Backend:
    """What a Redis server holds: records with versions, locks, and who listens to which page."""

    # page id -> [version, snapshot version, snapshot, deltas after it]
    records: dict[str, list[Any]] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)
    listeners: dict[str, set[FakeSharedStore]] = field(default_factory=dict)
    commits: int = 0  # records written (create or commit with an update): what a test can count
    snapshots: int = 0  # of which whole records


class FakeSharedStore(PageStore):
    _locks = itertools.count(1)

    def __init__(self, backend: Backend | None = None, lock_wait: float = 2.0) -> None:
        self.backend = backend if backend is not None else Backend()
        self.lock_wait = lock_wait
        self._on_notice: Notice | None = None

    def __repr__(self) -> str:
        return "<FakeSharedStore>"

    async def create(self, page_id: str, record: bytes, ttl: int) -> int:
        self.backend.records[page_id] = [1, 1, record, []]
        self.backend.commits += 1
        self.backend.snapshots += 1
        return 1

    @staticmethod
    def _since(got: list[Any], have: int) -> Catchup | None:
        version, base_version, base, deltas = got
        if have == version:
            return None
        if base_version <= have < version:
            return Catchup(None, deltas[have - base_version:])
        return Catchup(base, list(deltas))

    async def fetch(self, page_id: str, have: int, ttl: int) -> tuple[int, Catchup | None] | None:
        got = self.backend.records.get(page_id)
        if got is None:
            return None
        return got[0], self._since(got, have)

    async def acquire(self, page_id: str, have: int) -> tuple[str, int, Catchup | None]:
        waited = 0.0
        while page_id in self.backend.locks:
            if waited >= self.lock_wait:
                raise PageBusy("another worker holds the page's lock")
            await asyncio.sleep(0.001)
            waited += 0.001
        got = self.backend.records.get(page_id)
        if got is None:
            raise PageNotFound("the page has expired")
        lock = str(next(self._locks))
        self.backend.locks[page_id] = lock
        return lock, got[0], self._since(got, have)

    async def commit(self, page_id: str, lock: str, version: int, update: Update | None,
                     ttl: int, origin: str) -> int:
        backend = self.backend
        if backend.locks.get(page_id) == lock:
            del backend.locks[page_id]
        got = backend.records.get(page_id)
        if got is None:
            raise PageNotFound("the page has expired")
        if update is None:
            return got[0]
        if got[0] != version:
            raise PageConflict("the page was changed by another worker")
        got[0] = version + 1
        if update.full:
            got[1], got[2], got[3] = version + 1, update.body, []
            backend.snapshots += 1
        else:
            got[3].append(update.body)
        backend.commits += 1
        for store in list(backend.listeners.get(page_id, ())):
            if store._on_notice is not None:  # delivered later, as pub/sub does
                asyncio.get_running_loop().call_soon(store._on_notice, page_id, version + 1,
                                                     origin)
        return version + 1

    async def touch(self, page_ids: Iterable[str], ttl: int) -> None:
        return None

    async def delete(self, page_id: str) -> None:
        self.backend.records.pop(page_id, None)
        self.backend.locks.pop(page_id, None)

    def listen(self, worker: str, on_notice: Notice, on_state: StoreState) -> None:
        self._on_notice = on_notice

    async def subscribe(self, page_id: str, worker: str, ttl: int) -> None:
        self.backend.listeners.setdefault(page_id, set()).add(self)

    def unsubscribe(self, page_id: str, worker: str) -> None:
        self.backend.listeners.get(page_id, set()).discard(self)

    async def close(self) -> None:
        self._on_notice = None
