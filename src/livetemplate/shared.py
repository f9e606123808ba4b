"""One page across processes: the pages of a shared store (Redis), kept in step by notices.

A page's record — template name, data, data model, errors — lives in the store, sealed
(``snapshot``), with a version. Its live half — the mounted slot tree and the open connections —
lives in each process that serves the page, rebuilt by mounting the stored data. Every process
diffs against its own mount (which is what its own clients hold), so the store needs the data
only, never a tree:

- An action (or ``await page.push(...)``) takes the page's lock in the store, which also returns
  the newest record when this process's copy is older; runs on that; then stores the result as
  the next version (only if it changed), releases the lock and publishes "page P is at version
  v", in one step. Actions on one page therefore run one at a time across all processes, each on
  the result of the one before, each exactly once: the same rule as in one process.
- Every other process with connections to P hears the notice, loads the record, updates its mount
  and sends the diff to its connections. Pub/sub may lose a notice (a dropped connection): the
  next notice, the next action's version check, or the catch-up after a reconnect brings the page
  up to date, since each compares versions rather than counting notices.
- ``new_page`` and ``page.update()`` are sync: their writes start at once, behind the caller, and
  every async step that could hand the page to another process (the response of ``serve_http``,
  the endpoints, ``page.flush()``) waits for them.

``Application`` creates one ``SharedPages`` when its store is a ``SharedStore``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from . import protocol
from .actions import ActionContext, is_pending, start_action
from .collector import COLLECTOR
from .errors import (
    LiveTemplateError,
    PageConflict,
    PageNotFound,
    RenderError,
    ValidationError,
)
from .page import Page
from .snapshot import Opened, Sealer
from .store import PageRecord, SharedStore

if TYPE_CHECKING:
    from .app import Application
    from .connection import Connection

logger = logging.getLogger("livetemplate")

# The page whose change (action or push) the current task runs in, inherited by tasks it starts:
# updates made there are stored with the change itself.
_ACTING: ContextVar[Page | None] = ContextVar("livetemplate_acting", default=None)


class Stored:
    """What a process knows about the stored copy of one of its pages."""

    __slots__ = ("version", "mac", "fresh", "dirty", "touch", "saving", "refreshing", "again",
                 "used")

    def __init__(self, version: int, mac: bytes, used: float) -> None:
        self.version = version  # of the stored record this copy is; 0: not stored yet, -1: stale
        self.mac = mac  # of that record: an unchanged page seals to the same MAC
        self.fresh: bytes | None = None  # the sealed record of a page not stored yet
        self.dirty = False  # changed by sync code (update) since it was stored
        self.touch = False  # used by sync code (serve_http): start its time to live again
        self.saving: asyncio.Task[None] | None = None  # the write behind, while it runs
        self.refreshing: asyncio.Task[None] | None = None
        self.again = False  # a notice came during a refresh: refresh once more
        self.used = used


class SharedPages:
    def __init__(self, app: Application, store: SharedStore, secret: str | bytes) -> None:
        self.app = app
        self.store = store
        self.sealer = Sealer(secret)
        self.worker = secrets.token_hex(6)  # tells this process's own notices from others'
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.down = False

    @property
    def ttl(self) -> int:
        return max(1, math.ceil(self.app.limits.page_ttl))

    def _start(self) -> None:
        """Listen to the store from the running loop (once per loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self.down = False
        self.store.listen(self._notice, self._state)
        self._ticker = loop.create_task(self._tick())

    async def close(self) -> None:
        ticker, self._ticker, self._loop = self._ticker, None, None
        if ticker is not None:
            ticker.cancel()
        await self.store.close()

    # --- pages made and found -----------------------------------------------------------------

    def created(self, page: Page) -> None:
        """A page made by ``new_page``: sealed now (an unstorable model fails here), stored
        behind."""
        sealed, mac = self.sealer.seal(page.record)
        state = page._sync = Stored(0, mac, self.app.clock())
        state.fresh = sealed
        self._write_behind(page)

    async def load(self, page_id: str) -> Page:
        """The page ``page_id``, up to date with the store (made from its record when this
        process does not hold it)."""
        self._start()
        app = self.app
        page = app.pages.get(page_id)
        if page is None:
            got = await self.store.fetch(page_id, 0, self.ttl)
            if got is None:
                raise PageNotFound(
                    "the page of this token has expired or was never created; reload to start"
                    " a new one"
                )
            page = app.pages.get(page_id)  # made meanwhile by another request of this process
            if page is None:
                version, sealed = got
                assert sealed is not None
                opened, mac = self.sealer.open(page_id, sealed)
                app.pages.make_room(app.limits.max_pages, self.evict)
                now = app.clock()
                record = PageRecord(id=page_id, template=opened.template, data=opened.data,
                                    model=opened.model, errors=opened.errors,
                                    created=opened.created, last_seen=now)
                page = Page(app, record, app.template(opened.template))
                if app.tune_gc:
                    COLLECTOR.grew()  # a page made here lives long: frozen with the next batch
                page._sync = Stored(version, mac, now)
                app.pages.add(page)
                return page
        await self.refresh(page)
        assert page._sync is not None
        page._sync.used = app.clock()
        return page

    def check(self, model: Any) -> None:
        self.sealer.check(model)

    # --- connections --------------------------------------------------------------------------

    async def attach(self, page: Page, connection: Connection) -> None:
        """Subscribe to the page's notices, catch up, then attach (full tree first)."""
        self._start()
        await self.flush(page)
        # Subscribed before the catch-up, so no change falls between the two.
        await self.store.subscribe(page.id, self.worker, self.ttl)
        await self.refresh(page)
        page.attach(connection)

    def detached(self, page: Page) -> None:
        assert page._sync is not None
        page._sync.used = self.app.clock()
        if not page.connections:
            self.store.unsubscribe(page.id, self.worker)

    # --- changes ------------------------------------------------------------------------------

    async def run_action(self, page: Page, func: Callable[..., Any], action: str,
                         data: Mapping[str, Any], origin: Connection | None) -> dict[str, Any]:
        ctx = ActionContext(page, action, data)
        outcome: list[dict[str, Any]] = []

        async def body() -> None:
            try:
                result = start_action(func, page.model, ctx)
                if is_pending(result):
                    result = await page._await_action(result, action)  # Limits.action_timeout
                errors = ctx.errors
            except ValidationError as exc:
                result, errors = None, {**ctx.errors, **exc.errors}
            outcome.append(page._outcome(ctx, result, errors))

        return await self._change(page, body, origin, outcome)

    async def push(self, page: Page, data: Mapping[str, Any] | None,
                   values: Mapping[str, Any]) -> dict[str, Any]:
        if _ACTING.get() is page:  # inside this page's action: stored when the action is
            diff = page.update(data, **values)
            await asyncio.sleep(0)
            return diff

        async def body() -> None:
            page._assign(data)
            page._assign(values)

        reply = await self._change(page, body, None, [], local=True)
        await asyncio.sleep(0)
        return reply[protocol.TREE]

    async def _change(self, page: Page, body: Callable[[], Awaitable[None]],
                      origin: Connection | None, outcome: list[dict[str, Any]],
                      local: bool = False) -> dict[str, Any]:
        """Run ``body`` on the newest record under the page's lock; store, diff and send.

        ``local``: the page may hold changes made in place outside an action (``push`` after
        mutating the model); they are kept if nobody changed the page since, else refused.
        """
        self._start()
        state = page._sync
        assert state is not None
        async with page._lock:
            await self._save_pending(page)
            unsaved = local and self.sealer.seal(page.record)[1] != state.mac
            lock, version, newer = await self.store.acquire(page.id, state.version)
            if newer is not None and unsaved:
                await _release(self.store, page.id, lock, version, self.ttl)
                self._apply(page, version, newer)
                raise _lost_in_place()
            failed: BaseException | None = None
            try:
                if newer is not None:
                    self._load(page, version, newer)  # the mount catches up with the diff below
                acting = _ACTING.set(page)
                try:
                    await body()
                except BaseException as exc:  # a cancelled one too: keep what the action
                    failed = exc  # changed, stored and sent, as in one process
                finally:
                    _ACTING.reset(acting)
                sealed, mac = self.sealer.seal(page.record)
                state.version = await self.store.commit(
                    page.id, lock, version, None if mac == state.mac else sealed, self.ttl,
                    self.worker)
            except BaseException:
                state.version = -1  # this copy is not the stored one: reload it next time
                await _release(self.store, page.id, lock, version, self.ttl)
                raise
            state.mac, state.dirty = mac, False
            state.used = self.app.clock()
            try:
                diff = page._rerender()
            except RenderError:
                if failed is None:
                    raise
                diff = {}  # logged; the action's own error is the one to report
            if failed is not None:  # as in one process: what changed goes to every connection,
                if diff:  # and the origin hears of the failure from the error reply only
                    page._broadcast({protocol.TREE: diff, protocol.META: {}}, None)
                raise failed
            reply = {protocol.TREE: diff, protocol.META: outcome[0] if outcome else {}}
            page._broadcast(reply, origin)
        return reply

    def changed(self, page: Page) -> None:
        """Sync code changed the page (``update``, ``register_data_model``): store it behind."""
        assert page._sync is not None
        if _ACTING.get() is page:
            return  # stored with the running change
        page._sync.dirty = True
        self._write_behind(page)

    def touched(self, page: Page) -> None:
        assert page._sync is not None
        page._sync.touch = True
        page._sync.used = self.app.clock()
        self._write_behind(page)

    async def flush(self, page: Page) -> None:
        """Wait until what sync code did to the page is stored (raises what went wrong)."""
        state = page._sync
        assert state is not None
        while True:
            task = state.saving
            if task is not None and not task.done():
                await asyncio.shield(task)
            elif state.fresh is not None or state.dirty or state.touch:
                async with page._lock:
                    await self._save_pending(page)
            else:
                return

    def _write_behind(self, page: Page) -> None:
        state = page._sync
        assert state is not None
        if state.saving is not None and not state.saving.done():
            return  # the running write loops until nothing is left
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop: the next async step (flush) writes it
        self._start()
        state.saving = loop.create_task(self._save_behind(page))
        state.saving.add_done_callback(_log_failed_write)

    async def _save_behind(self, page: Page) -> None:
        async with page._lock:
            await self._save_pending(page)

    async def _save_pending(self, page: Page) -> None:
        """Store what sync code did (the caller holds the page's asyncio lock)."""
        state = page._sync
        assert state is not None
        store, ttl = self.store, self.ttl
        while True:
            if state.fresh is not None:
                if state.dirty:
                    state.fresh, state.mac = self.sealer.seal(page.record)
                    state.dirty = False
                await store.create(page.id, state.fresh, ttl)
                state.fresh, state.version, state.touch = None, 1, False
            elif state.dirty:
                state.dirty = False
                try:
                    sealed, mac = self.sealer.seal(page.record)
                    lock, version, newer = await store.acquire(page.id, state.version)
                except BaseException:
                    state.dirty = True
                    raise
                if newer is not None:
                    await _release(store, page.id, lock, version, ttl)
                    self._apply(page, version, newer)
                    raise _lost_in_place()
                state.version = await store.commit(
                    page.id, lock, version, None if mac == state.mac else sealed, ttl,
                    self.worker)
                state.mac, state.touch = mac, False
            elif state.touch:
                state.touch = False
                await store.touch([page.id], ttl)
            else:
                return

    # --- other processes' changes -------------------------------------------------------------

    async def refresh(self, page: Page) -> None:
        """Bring the page up to date with the store and send the diff to its connections."""
        state = page._sync
        assert state is not None
        if page._lock.locked():
            return  # an action runs: it loads the newest record itself, and notices follow
        async with page._lock:
            await self._save_pending(page)
            got = await self.store.fetch(page.id, state.version, self.ttl)
            if got is None:
                self._lost(page)
                raise PageNotFound("the page has expired (or the page store lost it); reload to"
                                   " start a new one")
            version, sealed = got
            if sealed is not None and version != state.version:
                self._apply(page, version, sealed)

    def _notice(self, page_id: str, version: int, origin: str) -> None:
        if origin == self.worker:
            return
        page = self.app.pages.get(page_id)
        if page is None or page._sync is None or page._sync.version >= version:
            return
        self._refresh_soon(page)

    def _refresh_soon(self, page: Page) -> None:
        state = page._sync
        assert state is not None
        if state.refreshing is not None and not state.refreshing.done():
            state.again = True
            return
        state.refreshing = asyncio.ensure_future(self._refresh_loop(page))

    async def _refresh_loop(self, page: Page) -> None:
        state = page._sync
        assert state is not None
        while True:
            state.again = False
            if page._lock.locked():
                async with page._lock:  # wait for the running action, then catch up anyway
                    pass
            try:
                await self.refresh(page)
            except LiveTemplateError as exc:
                logger.debug("livetemplate: page %s not refreshed: %s", page.id, exc.message)
            if not state.again:
                return

    def _state(self, error: BaseException | None) -> None:
        """The store went away (``error``) or came back (``None``)."""
        self.down = error is not None
        pages = self.app.pages.connected()
        if error is None:
            for page in pages:  # notices were lost meanwhile: join again, compare versions
                asyncio.ensure_future(self._rejoin(page))
            return
        text = protocol.dumps(protocol.error_message(
            "store_unavailable", "the page store is unreachable: actions fail and updates from"
            " other workers pause until it is back (the page then catches up by itself)"))
        for page in pages:
            for connection in list(page._connections):
                connection.deliver(text)

    async def _rejoin(self, page: Page) -> None:
        # A Redis restarted from an older snapshot may not list this process as a subscriber.
        try:
            await self.store.subscribe(page.id, self.worker, self.ttl)
        except LiveTemplateError as exc:
            logger.debug("livetemplate: page %s not subscribed again: %s", page.id, exc.message)
        self._refresh_soon(page)

    # --- applying records ---------------------------------------------------------------------

    def _open(self, page: Page, sealed: bytes) -> tuple[Opened, bytes]:
        return self.sealer.open(page.id, sealed)

    def _load(self, page: Page, version: int, sealed: bytes) -> None:
        """Replace the page's record with the stored one (the mount is left as it was)."""
        opened, mac = self._open(page, sealed)
        record = page.record
        page._take(opened.data, opened.model)
        record.errors = opened.errors
        state = page._sync
        assert state is not None
        state.version, state.mac = version, mac

    def _apply(self, page: Page, version: int, sealed: bytes) -> None:
        """``_load``, then send the diff to the page's connections."""
        self._load(page, version, sealed)
        diff = page._rerender()
        if diff:
            page._broadcast({protocol.TREE: diff, protocol.META: {}}, None)

    def _lost(self, page: Page) -> None:
        """The store no longer has the page: close its connections, forget it."""
        self.app.pages.drop(page.id)
        for connection in list(page._connections):
            close = getattr(connection, "close", None)
            message = "the page has expired (or the page store lost it); reload"
            if close is not None:
                close(protocol.close_code("page_not_found") or 1008, message, "page_not_found")
            else:
                connection.deliver(protocol.dumps(protocol.error_message("page_not_found",
                                                                         message)))

    # --- housekeeping -------------------------------------------------------------------------

    @property
    def interval(self) -> float:
        return max(0.05, min(self.app.limits.page_ttl / 4, 30.0))

    async def _tick(self) -> None:
        """Keep pages with connections alive in the store; forget idle ones here."""
        while True:
            await asyncio.sleep(self.interval)
            self.evict()
            held = [page.id for page in self.app.pages.connected()]
            try:
                await self.store.touch(held, self.ttl)
            except LiveTemplateError as exc:
                logger.debug("livetemplate: pages not touched: %s", exc.message)

    def evict(self) -> list[str]:
        """Forget pages idle here for ``page_ttl``; the store keeps them for other processes."""
        idle_since = self.app.clock() - self.app.limits.page_ttl
        gone = [page.id for page in self.app.pages if _idle(page, idle_since)]
        for page_id in gone:
            self.app.pages.drop(page_id)
        return gone


def _idle(page: Page, idle_since: float) -> bool:
    state = page._sync
    return (state is not None and not page.connections and state.used < idle_since
            and state.fresh is None and not state.dirty and not page._lock.locked()
            and (state.saving is None or state.saving.done()))


async def _release(store: SharedStore, page_id: str, lock: str, version: int, ttl: int) -> None:
    try:
        await store.commit(page_id, lock, version, None, ttl, "")
    except LiveTemplateError:  # the lease runs out by itself
        pass


def _lost_in_place() -> PageConflict:
    logger.warning("livetemplate: a change made in place outside an action was discarded:"
                   " another worker changed the page first")
    return PageConflict(
        "the page was changed by another worker since this process loaded it, so a change made"
        " in place (followed by page.update() or page.push()) was discarded; change shared pages"
        " in actions or with `await page.push(name=value)`"
    )


def _log_failed_write(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:  # the next flush tries again and raises it to its caller
        logger.warning("livetemplate: a page change was not stored yet: %s",
                       getattr(exc, "message", exc))
