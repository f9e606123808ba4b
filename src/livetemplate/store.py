"""Where pages live between changes: the one store interface, and the in-process store.

A store keeps, per page, a **version** (1, 2, ...), the last whole record (a *snapshot*) and the
*deltas* stored after it, and a time to live. What a record is depends on the store: the
in-process :class:`MemoryStore` keeps the page's own :class:`PageRecord` object (no copy, no
pickle; every version is a whole record), a store outside the process (Redis, or one you write)
keeps sealed ``bytes`` (``livetemplate.records``: pickled and signed), mostly deltas — what an
action changed — with a snapshot now and then. The live half of a page — its mounted slot tree
and its connections — belongs to one process and is rebuilt from the record (by mounting it) in a
process that sees the page for the first time.

Every change of a page, in every process, goes the same way (``livetemplate.page``): take the
page's lease (``acquire``, which also returns a :class:`Catchup` when the caller's copy is
older), change the page, ``commit`` an :class:`Update` (a snapshot or a delta) as the next
version — which ends the lease and sends a notice ``(page id, version, origin)`` to every other
process subscribed to the page — or ``commit`` nothing, which only ends the lease. Processes that
miss a notice still catch up: every ``acquire`` and ``fetch`` compares versions, and returns the
deltas after the caller's version (or the snapshot and every delta after it, when the caller's
version is older than the snapshot).

Errors: :class:`~livetemplate.errors.StoreUnavailable` when the store cannot be reached,
:class:`~livetemplate.errors.PageNotFound` for a page that expired,
:class:`~livetemplate.errors.PageBusy` when the lease stays taken too long,
:class:`~livetemplate.errors.PageConflict` when a commit comes after a lease ran out and another
change was stored meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .errors import PageBusy, PageConflict, PageNotFound


@dataclass
class PageRecord:
    id: str
    template: str
    data: dict[str, Any]
    model: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    last_seen: float = 0.0


class Update(NamedTuple):
    """What ``commit`` stores as the next version."""

    full: bool  # True: ``body`` is a whole record (a snapshot); False: a delta on the version before
    body: Any


class Catchup(NamedTuple):
    """What ``fetch`` and ``acquire`` return when the caller's copy is older than the store's."""

    base: Any  # a whole record to start from; None: the deltas apply to the caller's copy
    deltas: list[Any]  # the deltas after ``base`` (or after the caller's version), oldest first


Notice = Callable[[str, int, str], None]  # (page id, version, origin worker)
StoreState = Callable[["BaseException | None"], None]  # the error when it went down, None when back


class PageStore(ABC):
    """The store interface: records with versions, a lease per page, notices per page.

    ``in_process`` (class attribute): True for a store whose records are the pages' own
    :class:`PageRecord` objects and whose methods complete without suspending (sync code such
    as ``app.new_page`` runs them to the end at once); False (the default) for a store of sealed
    ``bytes`` records outside the process, whose I/O the page path awaits.
    """

    in_process = False

    @abstractmethod
    async def create(self, page_id: str, record: Any, ttl: int) -> int:
        """Store a new page at version 1 (``record``: its first snapshot); returns 1."""

    @abstractmethod
    async def fetch(self, page_id: str, have: int, ttl: int) -> tuple[int, Catchup | None] | None:
        """``(version, catchup)``, ``catchup`` ``None`` when ``have`` is that version; ``None``
        when the page is gone. Counts as a use (the time to live starts again)."""

    @abstractmethod
    async def acquire(self, page_id: str, have: int) -> tuple[str, int, Catchup | None]:
        """Take the page's lease (waiting while another holds it): ``(lease, version,
        catchup)``, ``catchup`` ``None`` when ``have`` is the stored version."""

    @abstractmethod
    async def commit(self, page_id: str, lease: str, version: int, update: Update | None,
                     ttl: int, origin: str) -> int:
        """End ``lease``; with an ``update``, first store it as version ``version + 1`` (a
        snapshot replaces the snapshot and drops the deltas before it; a delta is kept after
        them) and send the notice. Returns the page's version; raises
        :class:`~livetemplate.errors.PageConflict` when the page is no longer at ``version``."""

    @abstractmethod
    async def touch(self, page_ids: Iterable[str], ttl: int) -> None:
        """Start the time to live of these pages again (pages with open connections)."""

    @abstractmethod
    async def delete(self, page_id: str) -> None: ...

    @abstractmethod
    def listen(self, worker: str, on_notice: Notice, on_state: StoreState) -> None:
        """Deliver to ``worker`` (a process) the notices of the pages it subscribes to, and tell
        when the store goes away or comes back, from now on (in the running event loop)."""

    @abstractmethod
    async def subscribe(self, page_id: str, worker: str, ttl: int) -> None:
        """Receive the page's notices (``worker``: this process); returns once in effect."""

    @abstractmethod
    def unsubscribe(self, page_id: str, worker: str) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...


# Before issue 13 a store outside the process had an interface of its own; it is the one now.
SharedStore = PageStore


class _Entry:
    __slots__ = ("version", "base", "base_version", "deltas", "expires", "lease")

    def __init__(self, record: Any, expires: float) -> None:
        self.version = self.base_version = 1
        self.base = record
        self.deltas: list[Any] = []  # versions base_version + 1 ... version
        self.expires = expires
        self.lease: str | None = None

    def since(self, have: int) -> Catchup | None:
        """What a copy at version ``have`` needs to catch up."""
        if have == self.version:
            return None
        if self.base_version <= have < self.version:
            return Catchup(None, self.deltas[have - self.base_version:])
        return Catchup(self.base, list(self.deltas))



class MemoryStore(PageStore):
    """Records in a dict of this process: nothing to start, nothing shared between workers.

    Its methods never wait for I/O; one waits only for a lease another :class:`Application`
    on the same store holds (two apps in one process see each other's pages and changes).
    ``clock`` (default ``time.time``) is the Application's when it makes the store itself.
    """

    in_process = True

    def __init__(self, clock: Callable[[], float] | None = None, lease_wait: float = 10.0) -> None:
        self.clock = clock or time.time
        self.lease_wait = lease_wait
        self._entries: dict[str, _Entry] = {}
        self._listeners: dict[str, tuple[Notice, StoreState]] = {}  # worker -> its callbacks
        self._subscribers: dict[str, set[str]] = {}  # page id -> workers
        self._next_sweep = 0.0

    def __repr__(self) -> str:
        return "MemoryStore()"

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, page_id: str, now: float) -> _Entry | None:
        entry = self._entries.get(page_id)
        if entry is not None and entry.expires < now and entry.lease is None:
            self._drop(page_id)
            return None
        return entry

    def _drop(self, page_id: str) -> None:
        self._entries.pop(page_id, None)
        self._subscribers.pop(page_id, None)

    async def create(self, page_id: str, record: Any, ttl: int) -> int:
        now = self.clock()
        if now >= self._next_sweep:  # expired records go at most every quarter of a ttl
            self._next_sweep = now + ttl / 4
            for gone in [pid for pid, e in self._entries.items()
                         if e.expires < now and e.lease is None]:
                self._drop(gone)
        if page_id in self._entries:
            raise PageConflict(f"a page with id {page_id} exists already")
        self._entries[page_id] = _Entry(record, now + ttl)
        return 1

    async def fetch(self, page_id: str, have: int, ttl: int) -> tuple[int, Any] | None:
        now = self.clock()
        entry = self._live(page_id, now)
        if entry is None:
            return None
        entry.expires = now + ttl
        return entry.version, entry.since(have)

    async def acquire(self, page_id: str, have: int) -> tuple[str, int, Any]:
        # Not checked for expiry: a page changed now is in use (its ttl starts again at commit).
        entry = self._entries.get(page_id)
        if entry is None:
            raise _gone()
        if entry.lease is not None:  # another Application's change on this page runs
            entry = await self._wait(page_id, entry)
        # Leases here never run out, so one that is held is always its holder's: no token.
        entry.lease = lease = _HELD
        version = entry.version
        return lease, version, (None if version == have else entry.since(have))

    async def _wait(self, page_id: str, entry: _Entry) -> _Entry:
        waited, delay = 0.0, 0.001
        while entry.lease is not None:
            if waited >= self.lease_wait or not _loop_running():
                raise PageBusy(f"another application has been changing this page for over"
                               f" {self.lease_wait:g} s; try again")
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)
            got = self._entries.get(page_id)
            if got is None:
                raise _gone()
            entry = got
        return entry

    async def commit(self, page_id: str, lease: str, version: int, update: Update | None,
                     ttl: int, origin: str) -> int:
        entry = self._entries.get(page_id)
        if entry is None:
            raise _gone()
        entry.lease = None
        entry.expires = self.clock() + ttl
        if update is None:
            return entry.version
        if entry.version != version:
            raise PageConflict("the page was changed by another application while this change"
                               " ran; it was not applied: try again")
        entry.version = version = version + 1
        if update.full:
            entry.base, entry.base_version = update.body, version
            if entry.deltas:
                entry.deltas = []
        else:
            entry.deltas.append(update.body)
        subscribers = self._subscribers.get(page_id)
        if subscribers and (len(subscribers) > 1 or origin not in subscribers):
            loop = asyncio.get_running_loop()
            for worker in subscribers:
                if worker != origin and worker in self._listeners:
                    # delivered later, as a notice through Redis would be
                    loop.call_soon(self._listeners[worker][0], page_id, version, origin)
        return version

    async def touch(self, page_ids: Iterable[str], ttl: int) -> None:
        expires = self.clock() + ttl
        for page_id in page_ids:
            entry = self._entries.get(page_id)
            if entry is not None:
                entry.expires = expires

    async def delete(self, page_id: str) -> None:
        self._drop(page_id)

    def listen(self, worker: str, on_notice: Notice, on_state: StoreState) -> None:
        self._listeners[worker] = (on_notice, on_state)

    async def subscribe(self, page_id: str, worker: str, ttl: int) -> None:
        self._subscribers.setdefault(page_id, set()).add(worker)

    def unsubscribe(self, page_id: str, worker: str) -> None:
        subscribers = self._subscribers.get(page_id)
        if subscribers is not None:
            subscribers.discard(worker)

    async def close(self) -> None:
        pass  # nothing to close: another Application may still use the store


_HELD = "held"


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False  # sync code without an event loop: it cannot wait
    return True


def _gone() -> PageNotFound:
    return PageNotFound("the page has expired (or the page store lost it); reload to start"
                        " a new one")
