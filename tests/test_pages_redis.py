"""Pages of a shared store kept in step: two Applications on one Redis act as two workers.

Each test runs in one event loop; ``worker()`` makes an Application with its own RedisStore
(its own connections and listener), as a second uvicorn process would have. tests/test_cluster.py
does the same with real processes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from livetemplate import (
    Application,
    AsyncRequired,
    Page,
    PageConflict,
    PageNotFound,
    RedisStore,
    UnstorableError,
    ValidationError,
)
from tests.redis_server import RedisServer, free_port, redis_server

TEMPLATE = '<b>{{ count }}</b><i>{{ note }}</i>{% if errors.count %}<em>{{ errors.count }}</em>{% endif %}'


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.note = ""

    def increment(self) -> None:
        self.count += 1

    async def slow_increment(self) -> None:
        seen = self.count
        await asyncio.sleep(0.005)  # another worker's action would interleave here without a lock
        self.count = seen + 1

    def set(self, ctx: Any) -> None:
        value = ctx.get_int("value")
        if value < 0:
            raise ValidationError(count="must not be negative")
        self.count = value

    def break_after(self) -> None:
        self.count += 10
        raise RuntimeError("boom")

    def keep_a_lambda(self) -> None:
        self.count += 1
        self.note = lambda: None  # type: ignore[assignment]

    async def push_inside(self, ctx: Any) -> None:
        await ctx.page.push(note="pushed")
        self.count += 1


class Unpicklable:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()


class Tab:
    """A connection as the page sees it: what was delivered, decoded."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))

    def close(self, code: int, reason: str, error_code: str | None = None) -> None:
        if error_code is not None:
            self.messages.append({"type": "error", "code": error_code, "message": reason})
        self.closed = (code, reason)

    @property
    def codes(self) -> list[str]:
        return [m["code"] for m in self.messages if m.get("type") == "error"]


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from redis_server(tmp_path_factory.mktemp("redis"))


def worker(url: str, prefix: str, secret: str = "shared-secret", **options: Any) -> Application:
    live = Application(secret=secret, store=RedisStore(url, prefix=prefix, **options))
    live.add_template("counter", TEMPLATE)
    return live


def two_workers(redis: RedisServer,
                test: Callable[[Application, Application], Awaitable[None]]) -> None:
    prefix = f"t{free_port()}:"

    async def main() -> None:
        a, b = worker(redis.url, prefix), worker(redis.url, prefix)
        try:
            await test(a, b)
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def action(name: str, **data: Any) -> str:
    return json.dumps({"type": "action", "action": name, "data": data})


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def stored_page(a: Application, data: Any = None) -> Page:
    page = a.new_page("counter", data if data is not None else Counter())
    await page.flush()
    return page


def test_a_page_made_by_one_worker_is_served_by_another(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = a.new_page("counter", Counter())
        await page.flush()
        there = await b.load_page(page.token)
        assert there is not page and there.html() == page.html() == "<b>0</b><i></i>"
        assert (await b.handle_action(there, action("increment")))["tree"] == {"0": "1"}
        # Back on the first worker, the page catches up before it is used.
        assert (await a.load_page(page.token)).html() == "<b>1</b><i></i>"

    two_workers(redis, test)


def test_every_update_reaches_the_connections_of_every_worker(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        there = await b.load_page(page.token)
        here_tab, there_tab = Tab(), Tab()
        await page.connect(here_tab)
        await there.connect(there_tab)
        reply = await a.handle_action(page, action("increment"), origin=here_tab)
        assert reply["tree"] == {"0": "1"} and reply["meta"]["action"] == "increment"
        await until(lambda: len(there_tab.messages) == 2)
        assert there_tab.messages[1] == {"tree": {"0": "1"}, "meta": {}}
        await b.handle_action(there, action("set", value=5))
        await until(lambda: len(here_tab.messages) == 3)
        assert here_tab.messages[-1]["tree"] == {"0": "5"}
        assert there.html() == page.html() == "<b>5</b><i></i>"

    two_workers(redis, test)


def test_concurrent_actions_on_two_workers_lose_no_update(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        there = await b.load_page(page.token)
        replies = await asyncio.gather(
            *(a.handle_action(page, action("slow_increment")) for _ in range(15)),
            *(b.handle_action(there, action("slow_increment")) for _ in range(15)))
        assert all("tree" in reply for reply in replies), replies
        for live in (a, b):  # each catches up (no connections here, so no notices)
            assert (await live.load_page(page.token)).html() == "<b>30</b><i></i>"

    two_workers(redis, test)


def test_a_restarted_worker_finds_the_page_where_it_was(redis: RedisServer) -> None:
    prefix = f"t{free_port()}:"

    async def first() -> str:
        a = worker(redis.url, prefix)
        page = await stored_page(a)
        await a.handle_action(page, action("set", value=41))
        await a.handle_action(page, action("set", value=-1))  # validation errors are kept too
        await a.close()
        return page.token

    async def after_restart(token: str) -> None:
        a = worker(redis.url, prefix)
        page = await a.load_page(token)
        tab = Tab()
        await page.connect(tab)
        assert tab.messages[0]["tree"]["0"] == "41"  # a full tree first, as on every connect
        assert page.errors == {"count": "must not be negative"}
        await a.handle_action(page, action("increment"))
        assert page.html() == "<b>42</b><i></i>"
        await a.close()

    token = asyncio.run(first())
    asyncio.run(after_restart(token))


def test_sync_lookups_say_which_async_method_to_use(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        with pytest.raises(AsyncRequired, match=r"await app.load_page"):
            a.page_for_token(page.token)
        with pytest.raises(PageNotFound):
            await a.load_page(a.tokens.sign("no-such-page"))

    two_workers(redis, test)


def test_a_model_that_cannot_be_pickled_is_refused_where_it_is_given(
        redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        with pytest.raises(UnstorableError, match=r"attribute 'lock' \(lock\) of the data model"
                                                  r" tests\.test_pages_redis\.Unpicklable"):
            a.new_page("counter", Unpicklable())
        page = await stored_page(a)
        with pytest.raises(UnstorableError, match="__getstate__"):
            page.register_data_model(Unpicklable())
        # An action that makes the model unpicklable: refused, nothing stored, page unchanged.
        reply = await a.handle_action(page, action("keep_a_lambda"))
        assert reply["code"] == "unstorable" and "'note'" in reply["message"]
        there = await b.load_page(page.token)
        assert there.html() == "<b>0</b><i></i>"
        assert (await b.handle_action(there, action("increment")))["tree"] == {"0": "1"}
        # The first worker reloads its copy before its next action.
        assert (await a.handle_action(page, action("increment")))["tree"] == {"0": "2"}

    two_workers(redis, test)


def test_a_record_not_signed_with_the_secret_is_refused(
        redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    prefix = f"t{free_port()}:"

    async def test() -> None:
        a = worker(redis.url, prefix, secret="one")
        page = await stored_page(a)
        other = worker(redis.url, prefix, secret="two")
        with caplog.at_level(logging.ERROR, "livetemplate"):
            with pytest.raises(PageNotFound, match="signature"):
                await other.pages.load(page.id)
        assert "fails its signature check" in caplog.text
        await a.close()
        await other.close()

    asyncio.run(test())


def test_an_action_that_fails_keeps_what_it_changed_everywhere(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        there = await b.load_page(page.token)
        reply = await a.handle_action(page, action("break_after"))
        assert reply["code"] == "action_failed"
        assert page.html() == "<b>10</b><i></i>"
        assert (await b.handle_action(there, action("increment")))["tree"] == {"0": "11"}

    two_workers(redis, test)


def test_push_stores_and_fans_out(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        there = await b.load_page(page.token)
        tab = Tab()
        await page.connect(tab)
        await b.handle_action(there, action("increment"))
        assert await there.push(note="from b") == {"1": "from b"}
        await until(lambda: page.html() == "<b>1</b><i>from b</i>")
        # Inside an action of the same page, push sends at once and is stored with the action.
        reply = await a.handle_action(page, action("push_inside"))
        assert reply["tree"] == {"0": "2"}
        assert {"tree": {"1": "pushed"}, "meta": {}} in tab.messages
        assert (await b.load_page(page.token)).html() == "<b>2</b><i>pushed</i>"

    two_workers(redis, test)


def test_an_in_place_change_is_refused_when_another_worker_changed_the_page(
        redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        there = await b.load_page(page.token)
        page.model.note = "mine"
        page.update()  # stored behind: nobody changed the page meanwhile
        await page.flush()
        assert (await b.load_page(page.token)).html() == "<b>0</b><i>mine</i>"
        await b.handle_action(there, action("increment"))
        page.model.note = "lost"
        page.update()
        with pytest.raises(PageConflict, match="in place"):
            await page.flush()
        assert page.html() == "<b>1</b><i>mine</i>"  # the stored page, not the lost change

    two_workers(redis, test)


def test_serve_http_answers_once_the_page_is_stored(redis: RedisServer) -> None:
    prefix = f"t{free_port()}:"
    live = worker(redis.url, prefix)

    async def index(request: Request) -> Response:
        return live.new_page("counter", Counter()).serve_http(request)

    with TestClient(Starlette(routes=[Route("/", index)])) as client:
        html = client.get("/").text
    token = html.split('name="livetemplate-token" content="')[1].split('"')[0]

    async def check() -> None:
        other = worker(redis.url, prefix)
        assert (await other.load_page(token)).html() == "<b>0</b><i></i>"
        await other.close()

    asyncio.run(check())


def test_an_outage_is_reported_to_connections_and_the_page_catches_up(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()

    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        there = await b.load_page(page.token)
        tab = Tab()
        await page.connect(tab)
        await asyncio.to_thread(server.stop, True)  # a snapshot, so the page comes back
        await until(lambda: "store_unavailable" in tab.codes)
        reply = await a.handle_action(page, action("increment"))
        assert reply["code"] == "store_unavailable"
        await asyncio.to_thread(server.start)
        await until(lambda: not a.pages.down)
        reply = await b.handle_action(there, action("increment"))
        assert reply.get("tree") == {"0": "1"}, reply  # the failed action changed nothing
        await until(lambda: page.html() == "<b>1</b><i></i>")
        assert tab.messages[-1] == {"tree": {"0": "1"}, "meta": {}}

    try:
        two_workers(server, test)
    finally:
        server.stop()


def test_a_page_the_store_lost_closes_its_connections(redis: RedisServer) -> None:
    async def test(a: Application, b: Application) -> None:
        page = await stored_page(a)
        tab = Tab()
        await page.connect(tab)
        await a.store.delete(page.id)
        with pytest.raises(PageNotFound):
            await a.load_page(page.token)
        assert tab.codes == ["page_not_found"] and tab.closed is not None

    two_workers(redis, test)
