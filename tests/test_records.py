"""What the page path stores per change: the whole record in the in-process store; on a store
of bytes (Redis's contract, ``FakeSharedStore`` here), a signed delta of what the action changed
and now and then a snapshot, which other workers apply to their copies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from livetemplate import Application, PageNotFound
from livetemplate.records import MAX_DELTAS
from livetemplate.snapshot import Sealer
from livetemplate.store import Catchup
from tests.fake_shared_store import Backend, FakeSharedStore

TODOS = ('<p>{{ left }} left</p><ul>{% for t in todos %}<li data-key="{{ t.id }}">'
         '{{ t.title }}{% if t.done %} done{% endif %}</li>{% endfor %}</ul>')


class Todos:
    def __init__(self, n: int) -> None:
        self.todos = [{"id": i, "title": f"todo {i}", "done": False} for i in range(n)]
        self.left = n

    def toggle(self, ctx: Any) -> None:
        todo = self.todos[ctx.get_int("i")]
        todo["done"] = not todo["done"]
        self.left += -1 if todo["done"] else 1


class Tab:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))


def worker(backend: Backend, secret: str = "records-secret") -> Application:
    app = Application(secret=secret, store=FakeSharedStore(backend))
    app.add_template("todos", TODOS)
    return app


def entry(backend: Backend, page_id: str) -> list[Any]:
    return backend.records[page_id]  # [version, snapshot version, snapshot, deltas]


async def settle(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("not reached")


def test_an_action_stores_what_it_changed_and_other_workers_apply_it() -> None:
    backend = Backend()

    async def test() -> None:
        a, b = worker(backend), worker(backend)
        page = a.new_page("todos", Todos(1000))
        await page.flush()
        snapshot = len(entry(backend, page.id)[2])
        there = await b.load_page(page.token)
        tab = Tab()
        await there.connect(tab)
        await a.handle_action(page, {"action": "toggle", "data": {"i": 500}})
        version, base_version, _, deltas = entry(backend, page.id)
        assert (version, base_version, len(deltas)) == (2, 1, 1)
        assert len(deltas[0]) < snapshot / 50  # one row and a count, not 1,000 rows
        await settle(lambda: there.model.left == 999)
        assert there.html() == page.html() and "todo 500 done" in there.html()
        # b's connection got the minimal update: the toggled row and the count.
        assert tab.messages[-1]["tree"]["0"] == "999"
        await a.close()
        await b.close()

    asyncio.run(test())


class Added(Todos):
    """Rows added by an action, as users write it: plain dicts appended to the tracked list."""

    def add(self) -> None:
        self.todos.append({"id": len(self.todos), "title": "new", "done": False})
        self.left += 1


def test_rows_added_as_plain_dicts_travel_as_rows_and_arrive_tracked() -> None:
    backend = Backend()

    async def test() -> None:
        a, b = worker(backend), worker(backend)
        page = a.new_page("todos", Added(1000))
        await page.flush()
        snapshot = len(entry(backend, page.id)[2])
        there = await b.load_page(page.token)
        tab = Tab()
        await there.connect(tab)
        for _ in range(3):
            await a.handle_action(page, {"action": "add"})
        assert type(page.model.todos[1001]) is dict  # the user's own dict, not a copy
        await a.handle_action(page, {"action": "toggle", "data": {"i": 1001}})
        await a.handle_action(page, {"action": "toggle", "data": {"i": 5}})
        deltas = entry(backend, page.id)[3]
        assert len(deltas) == 5 and all(len(d) < snapshot / 50 for d in deltas)
        await settle(lambda: there.model.left == 1001)
        assert there.html() == page.html() and "todo 5 done" in there.html()
        assert there.model.todos.lt_opaque == 0  # b's copy tracks the rows it received
        # b's own action on that copy stores one row too, and a catches up with it.
        await b.handle_action(there, {"action": "toggle", "data": {"i": 1002}})
        assert len(entry(backend, page.id)[3][-1]) < snapshot / 50
        await a.handle_action(page, {"action": "toggle", "data": {"i": 0}})
        assert page.html().count(" done") == 4 and page.model.left == 999
        await settle(lambda: there.model.left == 999)
        assert there.html() == page.html()
        await a.close()
        await b.close()

    asyncio.run(test())


def test_a_worker_that_missed_notices_catches_up_from_the_deltas() -> None:
    backend = Backend()

    async def test() -> None:
        a, b = worker(backend), worker(backend)
        page = a.new_page("todos", Todos(200))
        await page.flush()
        there = await b.load_page(page.token)  # b holds it, but listens to nothing
        for i in range(6):
            await a.handle_action(page, {"action": "toggle", "data": {"i": i}})
        assert len(entry(backend, page.id)[3]) == 6
        assert (await b.load_page(page.token)) is there
        assert there.html() == page.html() and there.model.left == 194
        # b's next action runs on the newest state too, and a catches up with it.
        await b.handle_action(there, {"action": "toggle", "data": {"i": 0}})
        await a.handle_action(page, {"action": "toggle", "data": {"i": 1}})
        assert page.model.left == 196 and page.html().count(" done") == 4
        await a.close()
        await b.close()

    asyncio.run(test())


def test_a_snapshot_is_written_once_the_deltas_outgrow_it() -> None:
    backend = Backend()

    async def test() -> None:
        a = worker(backend)
        page = a.new_page("todos", Todos(3))  # a small page: a few deltas outweigh it
        await page.flush()
        for i in range(30):
            await a.handle_action(page, {"action": "toggle", "data": {"i": i % 3}})
        assert backend.snapshots > 1  # the first, and later ones
        version, base_version, base, deltas = entry(backend, page.id)
        assert version == 31 and base_version + len(deltas) == version
        assert sum(len(d) for d in deltas) <= len(base)
        # A process that starts now builds the page from the snapshot and the deltas after it.
        fresh = await worker(backend).load_page(page.token)
        assert fresh.html() == page.html()
        await a.close()

    asyncio.run(test())
    assert MAX_DELTAS >= 100


def test_a_delta_that_fails_its_signature_is_refused() -> None:
    backend = Backend()

    async def test() -> None:
        a = worker(backend)
        page = a.new_page("todos", Todos(5))
        await page.flush()
        await a.handle_action(page, {"action": "toggle", "data": {"i": 1}})
        forged = Sealer("another-secret").seal_bytes(b"anything")
        entry(backend, page.id)[3][0] = forged
        with pytest.raises(PageNotFound, match="signature"):
            await worker(backend).load_page(page.token)
        await a.close()

    asyncio.run(test())


def test_a_copy_whose_deltas_do_not_fit_takes_the_whole_record() -> None:
    backend = Backend()

    async def test() -> None:
        a, b = worker(backend), worker(backend)
        page = a.new_page("todos", Todos(5))
        await page.flush()
        there = await b.load_page(page.token)
        there.model.todos.append({"id": 99, "title": "stray", "done": False})  # not stored
        await a.handle_action(page, {"action": "toggle", "data": {"i": 2}})
        await there.refresh()  # the delta starts at 5 rows, the copy holds 6: start over
        assert there.html() == page.html()
        await a.close()
        await b.close()

    asyncio.run(test())


def test_the_in_process_store_keeps_the_page_record_itself() -> None:
    app = Application(secret="records-secret")
    app.add_template("todos", TODOS)
    page = app.new_page("todos", Todos(3))
    asyncio.run(app.handle_action(page, {"action": "toggle", "data": {"i": 0}}))
    got = asyncio.run(app.store.fetch(page.id, -1, 60))
    assert got is not None and got[0] == 2 and got[1] == Catchup(page.record, [])
