"""The registry of live pages, on both kinds of store: lookup, the page limit, expiry, notices,
and the direction of the web layer's imports.

The same registry and page path serve the in-process store and a store of sealed records
(``FakeSharedStore`` here, Redis in tests/test_pages_redis.py).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from livetemplate import Application, Limits, MemoryStore, PageLimitError, PageNotFound
from tests.fake_shared_store import Backend, FakeSharedStore

TEMPLATE = "<b>{{ count }}</b>"


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.count += 1


class Tab:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(store: Any, clock: Clock | None = None, **limits: Any) -> Application:
    app = Application(secret="pages-secret", store=store, limits=Limits(**limits),
                      **({"clock": clock} if clock else {}))
    app.add_template("counter", TEMPLATE)
    return app


@pytest.mark.parametrize("kind", ["memory", "shared"])
def test_two_applications_on_one_store_see_each_others_changes(kind: str) -> None:
    """Two Applications on one store are two workers: a page made by one is found by the
    other, and an action on either reaches the connections of both."""
    backend = Backend()
    shared = MemoryStore()

    def store() -> Any:
        return shared if kind == "memory" else FakeSharedStore(backend)

    async def test() -> None:
        a, b = make(store()), make(store())
        page = a.new_page("counter", Counter())
        await page.flush()
        there = await b.load_page(page.token)
        assert there is not page and there.html() == "<b>0</b>"
        here_tab, there_tab = Tab(), Tab()
        await page.connect(here_tab)
        await there.connect(there_tab)
        await b.handle_action(there, {"action": "increment"})
        for _ in range(100):
            if page.html() == "<b>1</b>":
                break
            await asyncio.sleep(0.005)
        assert page.html() == "<b>1</b>" and here_tab.messages[-1]["tree"] == {"0": "1"}
        # The other way round: a's copy is current, b's catches up through the notice.
        await a.handle_action(page, {"action": "increment"})
        for _ in range(100):
            if there.html() == "<b>2</b>":
                break
            await asyncio.sleep(0.005)
        assert there.html() == "<b>2</b>" and there_tab.messages[-1]["tree"] == {"0": "2"}
        await a.close()
        await b.close()

    asyncio.run(test())


@pytest.mark.parametrize("kind", ["memory", "shared"])
def test_max_pages_counts_the_pages_live_in_this_process(kind: str) -> None:
    backend = Backend()

    def store() -> Any:
        return None if kind == "memory" else FakeSharedStore(backend)

    async def test() -> None:
        clock = Clock()
        a = make(store(), clock, max_pages=2, page_ttl=100)
        first = a.new_page("counter")
        await first.flush()
        await a.new_page("counter").flush()  # stored: nothing keeps it here once idle
        with pytest.raises(PageLimitError, match="max_pages"):
            a.new_page("counter")
        assert a.page_count == 2
        clock.now += 101  # both idle: dropped to make room
        a.new_page("counter")
        assert a.page_count == 1
        if kind == "shared":  # the store keeps what other processes may still use
            b = make(store(), clock, max_pages=2, page_ttl=100)
            assert (await b.load_page(first.token)).id == first.id
        else:  # in one process, an idle page's record expires with it
            with pytest.raises(PageNotFound, match="expired"):
                await a.load_page(first.token)

    asyncio.run(test())


def test_a_connected_page_outlives_its_time_to_live() -> None:
    clock = Clock()
    app = make(None, clock, page_ttl=100)
    page = app.new_page("counter", Counter())
    asyncio.run(page.connect(Tab()))
    for _ in range(5):
        clock.now += 60
        app.expire_pages()  # the registry keeps connected pages' records alive in the store
    assert app.page_for_token(page.token) is page
    assert asyncio.run(app.handle_action(page, {"action": "increment"}))["tree"] == {"0": "1"}
