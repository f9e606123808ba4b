"""Where pages live between requests: the store interfaces and the in-process default.

A store keeps :class:`PageRecord` s: what a page needs, as plain data (template name, data,
data model, validation errors, timestamps). The live half of a page — the mounted slot tree and
the open connections — belongs to one process and is rebuilt from the record (by re-mounting)
when a process sees the page for the first time, so a store that keeps records outside the
process only has to serialize ``data`` and ``model``.

Two kinds: a :class:`PageStore` (sync, records as objects: :class:`MemoryStore`, the default) and
a :class:`SharedStore` (async, records as sealed bytes with a version, shared by every worker and
host: :class:`~livetemplate.redis_store.RedisStore`). ``livetemplate.shared`` drives the second.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageRecord:
    id: str
    template: str
    data: dict[str, Any]
    model: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    last_seen: float = 0.0


class PageStore(ABC):
    """Five operations; every one takes or returns plain records or ids."""

    @abstractmethod
    def get(self, page_id: str) -> PageRecord | None: ...

    @abstractmethod
    def put(self, record: PageRecord) -> None: ...

    @abstractmethod
    def delete(self, page_id: str) -> None: ...

    @abstractmethod
    def expired(self, idle_since: float) -> list[str]:
        """Ids of the pages last seen before ``idle_since`` (the caller deletes them)."""

    @abstractmethod
    def __len__(self) -> int: ...

    def touch(self, page_id: str, now: float) -> None:
        record = self.get(page_id)
        if record is not None:
            record.last_seen = now
            self.put(record)


class MemoryStore(PageStore):
    """Records in a dict of this process: nothing to start, nothing shared between workers."""

    def __init__(self) -> None:
        self._records: dict[str, PageRecord] = {}

    def get(self, page_id: str) -> PageRecord | None:
        return self._records.get(page_id)

    def put(self, record: PageRecord) -> None:
        self._records[record.id] = record

    def delete(self, page_id: str) -> None:
        self._records.pop(page_id, None)

    def expired(self, idle_since: float) -> list[str]:
        return [pid for pid, rec in self._records.items() if rec.last_seen < idle_since]

    def touch(self, page_id: str, now: float) -> None:
        record = self._records.get(page_id)
        if record is not None:
            record.last_seen = now

    def __len__(self) -> int:
        return len(self._records)


Notice = Callable[[str, int, str], None]  # (page id, version, origin worker)
StoreState = Callable[["BaseException | None"], None]  # the error when it went down, None when back


class SharedStore(ABC):
    """A store outside the process: every worker and host sees the same pages.

    A page is an opaque ``bytes`` record with a version (1, 2, ...) and a time to live. A change
    is made under the page's lock: ``acquire`` takes it (and returns the record when the caller's
    version is not the newest), ``commit`` stores the new record as the next version, releases the
    lock and announces ``(page id, version, origin)`` to every process subscribed to the page.
    Errors: :class:`~livetemplate.errors.StoreUnavailable` when the store cannot be reached,
    :class:`~livetemplate.errors.PageNotFound` for a page that expired,
    :class:`~livetemplate.errors.PageBusy` when the lock stays taken too long.
    """

    @abstractmethod
    async def create(self, page_id: str, record: bytes, ttl: int) -> int:
        """Store a new page at version 1; returns 1."""

    @abstractmethod
    async def fetch(self, page_id: str, have: int, ttl: int) -> tuple[int, bytes | None] | None:
        """``(version, record)``, the record ``None`` when ``have`` is that version; ``None`` when
        the page is gone. Counts as a use (the time to live starts again)."""

    @abstractmethod
    async def acquire(self, page_id: str, have: int) -> tuple[str, int, bytes | None]:
        """Take the page's lock (waiting while another holds it): ``(lock, version, record)``,
        the record ``None`` when ``have`` is the stored version."""

    @abstractmethod
    async def commit(self, page_id: str, lock: str, version: int, record: bytes | None,
                     ttl: int, origin: str) -> int:
        """Release ``lock``; with a ``record``, first store it as version ``version + 1`` and
        announce it. Returns the page's version; raises
        :class:`~livetemplate.errors.PageConflict` when the page is no longer at ``version``."""

    @abstractmethod
    async def touch(self, page_ids: Iterable[str], ttl: int) -> None:
        """Start the time to live of these pages again (pages with open connections)."""

    @abstractmethod
    async def delete(self, page_id: str) -> None: ...

    @abstractmethod
    def listen(self, on_notice: Notice, on_state: StoreState) -> None:
        """Deliver notices of subscribed pages, and tell when the store goes away or comes back,
        from now on (in the running event loop)."""

    @abstractmethod
    async def subscribe(self, page_id: str, worker: str, ttl: int) -> None:
        """Receive the page's notices (``worker``: this process); returns once in effect."""

    @abstractmethod
    def unsubscribe(self, page_id: str, worker: str) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...
