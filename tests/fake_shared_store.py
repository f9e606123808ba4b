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

from livetemplate.errors import PageBusy, PageConflict, PageNotFound
from livetemplate.store import Notice, PageStore, StoreState


@dataclass
class Backend:
    """What a Redis server holds: records with versions, locks, and who listens to which page."""

    records: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    locks: dict[str, str] = field(default_factory=dict)
    listeners: dict[str, set[FakeSharedStore]] = field(default_factory=dict)
    commits: int = 0  # records written (create or commit with a record): what a test can count


class FakeSharedStore(PageStore):
    _locks = itertools.count(1)

    def __init__(self, backend: Backend | None = None, lock_wait: float = 2.0) -> None:
        self.backend = backend if backend is not None else Backend()
        self.lock_wait = lock_wait
        self._on_notice: Notice | None = None

    def __repr__(self) -> str:
        return "<FakeSharedStore>"

    async def create(self, page_id: str, record: bytes, ttl: int) -> int:
        self.backend.records[page_id] = (1, record)
        self.backend.commits += 1
        return 1

    async def fetch(self, page_id: str, have: int, ttl: int) -> tuple[int, bytes | None] | None:
        got = self.backend.records.get(page_id)
        if got is None:
            return None
        version, record = got
        return version, None if version == have else record

    async def acquire(self, page_id: str, have: int) -> tuple[str, int, bytes | None]:
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
        version, record = got
        return lock, version, None if version == have else record

    async def commit(self, page_id: str, lock: str, version: int, record: bytes | None,
                     ttl: int, origin: str) -> int:
        backend = self.backend
        if backend.locks.get(page_id) == lock:
            del backend.locks[page_id]
        got = backend.records.get(page_id)
        if got is None:
            raise PageNotFound("the page has expired")
        if got[0] != version:
            raise PageConflict("the page was changed by another worker")
        if record is None:
            return version
        backend.records[page_id] = (version + 1, record)
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
