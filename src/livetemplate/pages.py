"""The registry of the pages live in one process: lookup, the page limit, expiry, notices.

Live means mounted here: a page's record is in a store (in this process, or shared by several:
``livetemplate.store``), but its mounted tree and its connections are in one process, in this
registry. ``Application`` makes and looks up pages through it, on every store alike:

- lookup: a page live here, else made from its stored record (by mounting it);
- the limit: ``Limits.max_pages`` bounds the pages live in this process, whatever the store;
- expiry: a page unused here for ``Limits.page_ttl`` (no connection, nothing left to store) is
  dropped from the process; the store drops its record by itself once its time to live runs out,
  and the pages with connections are the ones kept alive there;
- notices: the store tells this process (``worker``) which page another process changed; the
  page found here catches up (``Page.refresh``), and when the store comes back after an outage
  every connected page subscribes again and catches up.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from . import protocol
from .collector import COLLECTOR
from .errors import AsyncRequired, LiveTemplateError, PageLimitError, PageNotFound
from .page import Host, Page, run_now
from .records import Codec
from .store import Catchup, PageRecord, PageStore

logger = logging.getLogger("livetemplate")

Templates = Callable[[str], Any]  # template name -> lt_engine.Template


class LivePages:
    def __init__(self, host: Host, store: PageStore, codec: Codec, templates: Templates,
                 tune_gc: bool = False) -> None:
        self.host = host
        self.store = store
        self.codec = codec
        self.templates = templates
        self.tune_gc = tune_gc
        self.worker = secrets.token_hex(6)  # tells this process's own notices from others'
        self.ttl = max(1, math.ceil(host.limits.page_ttl))
        self.down = False  # the store is unreachable (it said so)
        self._pages: dict[str, Page] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None

    # --- the pages live here ------------------------------------------------------------------

    def get(self, page_id: str) -> Page | None:
        return self._pages.get(page_id)

    def add(self, page: Page) -> None:
        self._pages[page.id] = page

    def drop(self, page_id: str) -> Page | None:
        return self._pages.pop(page_id, None)

    def clear(self) -> None:
        self._pages.clear()

    def __len__(self) -> int:
        return len(self._pages)

    def __iter__(self) -> Iterator[Page]:
        return iter(list(self._pages.values()))  # a copy: callers may add or drop pages

    def connected(self) -> list[Page]:
        """The pages with open connections (never idle)."""
        return [page for page in self._pages.values() if page.connections]

    def of_template(self, name: str) -> list[Page]:
        return [page for page in self._pages.values() if page.template_name == name]

    def make_room(self) -> None:
        """Raise :class:`PageLimitError` when ``Limits.max_pages`` pages are live, after
        dropping the idle ones was tried."""
        max_pages = self.host.limits.max_pages
        if len(self._pages) >= max_pages:
            self.expire()
            if len(self._pages) >= max_pages:
                raise PageLimitError(
                    f"{len(self._pages)} pages live in this process: the limit"
                    " (Limits.max_pages) is reached; try again later, or raise max_pages /"
                    " lower page_ttl"
                )

    # --- lookup -------------------------------------------------------------------------------

    async def load(self, page_id: str) -> Page:
        """The page ``page_id``, up to date with the store (made from its record when this
        process does not hold it)."""
        self.start()
        page = self._pages.get(page_id)
        if page is None:
            got = await self.store.fetch(page_id, -1, self.ttl)
            if got is None:
                raise _not_found()
            page = self._pages.get(page_id)  # made meanwhile by another request of this process
            if page is None:
                return self._made(page_id, *got)
        await page.refresh()
        page._stored.used = self.host.clock()
        return page

    def load_now(self, page_id: str) -> Page:
        """``load`` for sync code: the in-process store only (it answers without I/O)."""
        if not self.store.in_process:
            raise AsyncRequired(
                f"this application keeps its pages in {self.store!r}, which takes I/O to read:"
                " use `await app.load_page(request_or_token)` instead of app.get_page() /"
                " app.page_for_token()"
            )
        page = self._pages.get(page_id)
        if page is not None:
            return page
        got = run_now(self.store.fetch(page_id, -1, self.ttl))
        if got is None:
            raise _not_found()
        return self._made(page_id, *got)

    def _made(self, page_id: str, version: int, catchup: Catchup | None) -> Page:
        """A page known to the store but not live here: rebuilt by mounting its record."""
        assert catchup is not None and catchup.base is not None  # asked from version 0
        opened = self.codec.opened(page_id, catchup.base)
        self.make_room()
        now = self.host.clock()
        record = PageRecord(id=page_id, template=opened.template, data=opened.data,
                            model=opened.model, errors=opened.errors, created=opened.created,
                            last_seen=now)
        page = Page(self.host, record, self.templates(opened.template))
        page._load(version, catchup, fresh=True)
        if catchup.deltas:
            page._rerender()  # the mount of the snapshot catches up (no connection yet)
        if self.tune_gc:
            COLLECTOR.grew()  # a page made here lives long: frozen with the next batch
        self._pages[page_id] = page
        return page

    # --- expiry -------------------------------------------------------------------------------

    def expire(self) -> list[str]:
        """Drop the pages idle here for ``Limits.page_ttl``; returns their ids.

        The store keeps a record until its own time to live runs out (other processes may still
        use it); the pages with connections have theirs started again here.
        """
        idle_since = self.host.clock() - self.host.limits.page_ttl
        gone = [page.id for page in self._pages.values() if page.idle(idle_since)]
        for page_id in gone:
            del self._pages[page_id]
        if self.store.in_process:  # no I/O: done now (any other store: by the tick below)
            run_now(self.store.touch([page.id for page in self.connected()], self.ttl))
        if gone:
            logger.debug("livetemplate: %d idle pages dropped", len(gone))
        return gone

    @property
    def interval(self) -> float:
        return max(0.05, min(self.host.limits.page_ttl / 4, 30.0))

    async def _tick(self) -> None:
        """Keep pages with connections alive in the store; drop idle ones here."""
        while True:
            await asyncio.sleep(self.interval)
            self.expire()
            if self.store.in_process:
                continue
            try:
                await self.store.touch([page.id for page in self.connected()], self.ttl)
            except LiveTemplateError as exc:
                logger.debug("livetemplate: pages not touched: %s", exc.message)

    # --- notices ------------------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the store's notices from the running loop (once per loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self.down = False
        self.store.listen(self.worker, self._notice, self._state)
        self._ticker = loop.create_task(self._tick())

    async def close(self) -> None:
        ticker, self._ticker, self._loop = self._ticker, None, None
        if ticker is not None:
            ticker.cancel()
        await self.store.close()

    def _notice(self, page_id: str, version: int, origin: str) -> None:
        if origin == self.worker:
            return
        page = self._pages.get(page_id)
        if page is None or page._stored.version >= version:
            return
        self._refresh_soon(page)

    def _refresh_soon(self, page: Page) -> None:
        state = page._stored
        if state.refreshing is not None and not state.refreshing.done():
            state.again = True
            return
        state.refreshing = asyncio.ensure_future(self._refresh_loop(page))

    async def _refresh_loop(self, page: Page) -> None:
        state = page._stored
        while True:
            state.again = False
            if page._lock.locked():
                async with page._lock:  # wait for the running change, then catch up anyway
                    pass
            try:
                await page.refresh()
            except LiveTemplateError as exc:
                logger.debug("livetemplate: page %s not refreshed: %s", page.id, exc.message)
            if not state.again:
                return

    def _state(self, error: BaseException | None) -> None:
        """The store went away (``error``) or came back (``None``)."""
        self.down = error is not None
        pages = self.connected()
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


def _not_found() -> PageNotFound:
    return PageNotFound("the page of this token has expired or was never created by this"
                        " server; reload to start a new one")
