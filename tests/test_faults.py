"""Faults inside the server: an action that raises, one that hangs, a template that fails to render.

Each fault must end as an error message to the client that caused it, leave the page consistent
(the client's tree, with every update merged, renders exactly what Jinja2 renders from the page's
data), keep the connection usable, and leave other pages alone.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import jinja2
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from livetemplate import Application, Limits, Page
from livetemplate.errors import RenderError
from livetemplate.testing import LiveView, mount
from tests.fake_shared_store import FakeSharedStore

TEMPLATE = '<p>{{ a }}</p><i>{{ n | fragile }}</i><b>{{ c }}</b>{% for x in xs %}<li>{{ x }}</li>{% endfor %}'


def fragile(value: Any) -> Any:
    """A filter that fails on some data, as real filters do (a bad date, a missing key...)."""
    if value == 13:
        raise ValueError("unlucky")
    return value


class Model:
    def __init__(self) -> None:
        self.a, self.n, self.c, self.xs = 1, 1, 1, [1, 2]

    def set(self, ctx: Any) -> None:
        for name in ("a", "n", "c"):
            if ctx.has(name):
                setattr(self, name, ctx.get_int(name))

    def half_then_raise(self) -> None:
        self.a += 100  # changed before failing: the page must show it
        raise RuntimeError("bug in the action")

    def break_then_raise(self) -> None:
        self.n = 13  # fails to render
        raise RuntimeError("and then a bug")

    def raise_first(self) -> None:
        raise KeyError("nothing changed")

    async def hang(self) -> None:
        self.a = -1
        await asyncio.Event().wait()  # never set

    async def own_timeout(self) -> None:
        await asyncio.wait_for(asyncio.Event().wait(), 0.01)  # its own TimeoutError

    def increment(self) -> None:
        self.c += 1


STORES = {"memory": lambda: None, "shared": FakeSharedStore}
_store = ["memory"]  # the store of the running test's apps (the fixture below sets it)


@pytest.fixture(autouse=True, params=sorted(STORES))
def store(request: pytest.FixtureRequest) -> Any:
    """Every fault test runs on both page paths: the in-process store, and a shared store
    (Redis's contract, in memory; tests/test_pages_redis.py runs it on Redis)."""
    _store[0] = request.param
    return request.param


def make_app(**limits: Any) -> Application:
    live = Application(secret="faults", limits=Limits(rate=None, **limits),
                       store=STORES[_store[0]]())
    live.env.filters["fragile"] = fragile
    live.add_template("t", TEMPLATE)
    return live


def expected_html(page: Page) -> str:
    env = jinja2.Environment(autoescape=True)
    env.filters["fragile"] = fragile
    return env.from_string(TEMPLATE).render(vars(page.model))


def assert_consistent(view: LiveView) -> None:
    """What the client shows is what the page's data renders to, and so is the server's tree."""
    assert view.html == expected_html(view.page)
    assert view.page.html() == expected_html(view.page)


# --- an action that raises ------------------------------------------------------------------------


def test_an_action_that_raises_before_changing_anything(caplog: pytest.LogCaptureFixture) -> None:
    view = mount(make_app(), "t", Model())
    before = view.html
    reply = view.send("raise_first")
    assert reply["type"] == "error" and reply["code"] == "action_failed"
    assert "nothing changed" not in reply["message"]  # details stay in the server log
    assert "KeyError" in caplog.text
    assert view.html == before and view.updates == []
    assert view.send("increment")["tree"] == {"2": "2"}  # the page goes on
    assert_consistent(view)


def test_an_action_that_raises_half_way_leaves_the_page_true_to_its_model() -> None:
    view = mount(make_app(), "t", Model())
    other = mount(view.app, view.page)  # a second tab sees the same
    reply = view.send("half_then_raise")
    assert reply["code"] == "action_failed"
    assert view.page.model.a == 101
    assert_consistent(view)
    assert other.html == view.html


def test_the_connection_survives_an_action_that_raises() -> None:
    live = make_app()
    app = Starlette(routes=live.routes("/ws", new_page=lambda ws: live.new_page("t", Model())))
    with TestClient(app).websocket_connect("/ws") as ws:
        ws.receive_json()  # page token
        ws.receive_json()  # full tree
        ws.send_json({"type": "action", "action": "raise_first"})
        assert ws.receive_json()["code"] == "action_failed"
        ws.send_json({"type": "action", "action": "increment"})
        assert ws.receive_json()["tree"] == {"2": "2"}


# --- an action that hangs -------------------------------------------------------------------------


def test_a_hanging_action_times_out_and_other_pages_go_on() -> None:
    async def scenario() -> None:
        live = make_app(action_timeout=0.5)
        hung, other = mount(live, "t", Model()), mount(live, "t", Model())
        task = asyncio.ensure_future(hung.asend("hang"))
        await asyncio.sleep(0)
        # while it hangs, another page serves its actions, and nothing leaks into it
        for _ in range(3):
            assert "tree" in await other.asend("increment")
        assert not task.done()
        reply = await task
        assert reply["code"] == "action_timeout" and "Limits.action_timeout" in reply["message"]
        assert hung.page.model.a == -1  # what it changed before it was cancelled is shown
        assert_consistent(hung)
        assert other.page.model.c == 4 and other.page.model.a == 1
        assert_consistent(other)
        # and the hung page works again
        assert (await hung.asend("increment"))["tree"] == {"2": "2"}

    asyncio.run(scenario())


def test_actions_of_the_same_page_wait_for_a_hanging_one_then_run() -> None:
    async def scenario() -> None:
        live = make_app(action_timeout=0.3)
        view = mount(live, "t", Model())
        hanging = asyncio.ensure_future(view.asend("hang"))
        await asyncio.sleep(0)
        after = await view.asend("increment")  # queued behind the hang, not lost
        assert (await hanging)["code"] == "action_timeout"
        assert "tree" in after and view.page.model.c == 2
        assert_consistent(view)

    asyncio.run(scenario())


def test_a_timeout_error_of_the_action_itself_is_a_failure_not_a_timeout() -> None:
    view = mount(make_app(action_timeout=30), "t", Model())
    assert view.send("own_timeout")["code"] == "action_failed"


def test_a_hanging_action_over_websockets_does_not_block_other_connections() -> None:
    live = make_app(action_timeout=1.0)
    app = Starlette(routes=live.routes("/ws", new_page=lambda ws: live.new_page("t", Model())))
    client = TestClient(app)
    with client.websocket_connect("/ws") as hung, client.websocket_connect("/ws") as other:
        for ws in (hung, other):
            ws.receive_json()
            ws.receive_json()
        hung.send_json({"type": "action", "action": "hang"})
        other.send_json({"type": "action", "action": "increment"})
        assert other.receive_json()["tree"] == {"2": "2"}
        assert hung.receive_json()["tree"] == {"0": "-1"}  # what it changed before the timeout
        reply = hung.receive_json()
        assert reply["type"] == "error" and reply["code"] == "action_timeout"
        hung.send_json({"type": "action", "action": "increment"})
        assert hung.receive_json()["tree"]["2"] == "2"


# --- a template that fails to render --------------------------------------------------------------


def test_a_render_error_is_reported_and_the_page_recovers_whole(
        caplog: pytest.LogCaptureFixture) -> None:
    view = mount(make_app(), "t", Model())
    other = mount(view.app, view.page)
    good = view.html
    # a and c change too: the engine updates slot by slot, so "a" is done when "n" fails
    reply = view.send("set", a=2, n=13, c=2)
    assert reply["type"] == "error" and reply["code"] == "render_failed"
    assert "'t' raised ValueError" in reply["message"] and "unlucky" not in reply["message"]
    assert "unlucky" in caplog.text  # the traceback is in the server log
    assert view.html == good and other.html == good  # connected clients keep the last good tree
    # the page is still served (new tabs, HTTP) while its data cannot render
    assert mount(view.app, view.page).html and view.page.html()
    # the next change that renders brings every client to the whole new state, "c" included
    assert "tree" in view.send("set", n=4)
    assert view.page.model.c == 2
    assert_consistent(view)
    assert other.html == view.html
    # and plain minimal updates resume
    assert view.send("increment")["tree"] == {"2": "3"}
    assert_consistent(view)


def test_a_render_error_after_an_action_error_reports_the_action_error() -> None:
    view = mount(make_app(), "t", Model())
    assert view.send("break_then_raise")["code"] == "action_failed"
    assert "tree" in view.send("set", n=1)
    assert_consistent(view)


def test_page_update_from_server_code_raises_and_keeps_the_page_usable() -> None:
    view = mount(make_app(), "t", Model())
    good = view.html
    with pytest.raises(RenderError, match="raised ValueError"):
        view.page.update(n=13, c=5)
    assert view.html == good
    view.page.update(n=2)
    assert_consistent(view)


def test_a_page_whose_first_render_fails_is_refused_with_a_reason(
        caplog: pytest.LogCaptureFixture) -> None:
    live = make_app()
    with pytest.raises(RenderError):
        live.new_page("t", {"a": 1, "n": 13, "c": 1, "xs": []})

    def bad_page(ws: Any) -> Page:
        model = Model()
        model.n = 13
        return live.new_page("t", model)

    app = Starlette(routes=live.routes("/ws", new_page=bad_page))
    with caplog.at_level(logging.ERROR), TestClient(app).websocket_connect("/ws") as ws:
        message = ws.receive_json()
    assert message["type"] == "error" and message["code"] == "render_failed"


def test_the_timeout_works_without_asyncio_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(asyncio, "timeout")  # as on Python 3.10: wait_for in a task of its own
    view = mount(make_app(action_timeout=0.2), "t", Model())
    assert view.send("hang")["code"] == "action_timeout"
    assert view.send("own_timeout")["code"] == "action_failed"
    assert_consistent(view)


def test_a_cancelled_action_leaves_the_page_true_to_what_it_changed() -> None:
    """A cancelled action (its connection dropped) keeps what it changed, on both stores: the
    page's tree, every client's and a later one's show it, and the next action runs."""
    view = mount(make_app(action_timeout=None), "t", Model())
    other = mount(view.app, view.page)

    async def run() -> None:
        task = asyncio.ensure_future(view.asend("hang"))  # sets a = -1, then waits forever
        while view.page.model.a != -1:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert other.html == expected_html(view.page) and "<p>-1</p>" in other.html
        assert "tree" in await other.asend("increment")

    asyncio.run(run())
    assert_consistent(other)
    assert mount(view.app, view.page).html == other.html
