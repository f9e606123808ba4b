from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from livetemplate import ActionContext, Application, Page, ValidationError
from livetemplate.page import PageLock
from tests.fake_shared_store import FakeSharedStore

FORM = (
    "<h1>{{ title }}</h1><ul>{% for n in names %}<li data-key=\"{{ n }}\">{{ n }}</li>{% endfor %}"
    "</ul>{% if errors.name %}<b>{{ errors.name }}</b>{% endif %}"
)


class Names:
    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, ctx: ActionContext) -> None:
        name = ctx.get_str("name").strip()
        if not name:
            raise ValidationError(name="Give a name.")
        if name in self.names:
            ctx.add_error("name", f"{name} is already there.")
            return
        self.names.append(name)

    def rename(self, ctx: ActionContext) -> dict[str, Any]:
        return {"title": ctx.get_str("title"), "names": [n.upper() for n in self.names]}


class Sink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))


@pytest.fixture(params=["memory", "shared"])
def app(request: pytest.FixtureRequest) -> Application:
    """Every page test runs on both page paths: the in-process store, and a shared store
    (Redis's contract, in memory; tests/test_pages_redis.py runs the same path on Redis)."""
    app = Application(secret="test",
                      store=FakeSharedStore() if request.param == "shared" else None)
    app.add_template("names", FORM)
    return app


def act(page: Page, action: str, origin: Any = None, **data: Any) -> dict[str, Any]:
    return asyncio.run(page.run_action(action, data, origin))


def test_validation_errors_reach_meta_and_the_template(app: Application) -> None:
    page = app.new_page("names", {"title": "T"})
    page.register_data_model(Names())
    reply = act(page, "add", name=" ")
    assert reply["meta"] == {"action": "add", "success": False, "errors": {"name": "Give a name."}}
    assert page.html().endswith("<b>Give a name.</b>")
    act(page, "add", name="ann")
    assert page.errors == {} and "<b>" not in page.html()
    reply = act(page, "add", name="ann")
    assert reply["meta"]["errors"] == {"name": "ann is already there."}


def test_returned_data_updates_model_attributes_and_page_data(app: Application) -> None:
    page = app.new_page("names", {"title": "T"})
    model = Names()
    model.names = ["a"]
    page.register_data_model(model)
    act(page, "rename", title="New")
    assert page.data["title"] == "New" and model.names == ["A"]
    assert page.html().startswith("<h1>New</h1><ul><li data-key=\"A\">A</li>")


def test_register_data_model_refuses_plain_data(app: Application) -> None:
    page = app.new_page("names")
    with pytest.raises(TypeError, match="new_page"):
        page.register_data_model({"names": []})


def test_updates_fan_out_to_every_connection(app: Application) -> None:
    page = app.new_page("names", Names())
    tab1, tab2 = Sink(), Sink()
    page.attach(tab1)
    page.attach(tab2)
    assert "s" in tab1.messages[0]["tree"] and tab1.messages == tab2.messages
    act(page, "add", tab1, name="bo")
    assert tab1.messages[1]["tree"] == tab2.messages[1]["tree"] == {
        "1": {"0": [["a", [{"0": "bo", "1": "bo"}]]]}}
    # the action's meta answers its sender only: tab2 must not take it for a reply of its own
    assert tab1.messages[1]["meta"] == {"action": "add", "success": True, "errors": {}}
    assert tab2.messages[1]["meta"] == {}
    act(page, "add", tab1, name="bo")  # refused, but the template shows the error: both see it
    assert tab1.messages[2]["meta"]["success"] is False
    assert tab2.messages[2] == {"tree": tab1.messages[2]["tree"], "meta": {}}
    page.detach(tab2)
    act(page, "add", tab1, name="cy")
    assert len(tab1.messages) == 4 and len(tab2.messages) == 3


class Quiet:  # (module level: a shared store pickles data models)
    names: list[str] = []

    def noop(self) -> None: ...


class Pusher:
    names: list[str] = []

    async def go(self, ctx: ActionContext) -> None:
        await ctx.page.push(title="pushed")


def test_an_unchanged_tree_goes_only_back_to_the_sender(app: Application) -> None:
    page = app.new_page("names", Quiet())
    tab1, tab2 = Sink(), Sink()
    page.attach(tab1)
    page.attach(tab2)
    act(page, "noop", tab1)
    assert tab1.messages[-1] == {"tree": {}, "meta": {"action": "noop", "success": True,
                                                      "errors": {}}}
    assert len(tab2.messages) == 1


def test_server_side_update_and_push(app: Application) -> None:
    page = app.new_page("names", {"title": "a", "names": []})
    tab = Sink()
    page.attach(tab)
    assert page.update(title="b") == {"0": "b"}
    page.data["names"].append("x")  # edited in place, then announced
    assert page.update() == {"1": {"0": [["a", [{"0": "x", "1": "x"}]]]}}
    assert page.update() == {}
    assert asyncio.run(page.push({"title": "c"})) == {"0": "c"}
    assert [m["tree"] for m in tab.messages[1:]] == [
        {"0": "b"}, {"1": {"0": [["a", [{"0": "x", "1": "x"}]]]}}, {"0": "c"}]


def test_serve_http_embeds_the_token_and_sets_the_cookie(app: Application) -> None:
    app.add_template("doc", "<html><head></head><body>{{ title }}</body></html>")
    holder: dict[str, Page] = {}

    async def index(request: Request) -> Response:
        page = holder.setdefault("page", app.new_page("doc", {"title": "x"}))
        return page.serve_http(request, {"title": request.query_params.get("t", "x")})

    client = TestClient(Starlette(routes=[Route("/", index)]))
    response = client.get("/?t=hello")
    page = holder["page"]
    assert response.headers["cache-control"] == "no-store"
    token = response.cookies[app.cookie_for("/")]  # the cookie of this path (one per path)
    assert app.tokens.verify(token, page.id) == page.id
    assert response.text == (
        f'<html><head><meta name="livetemplate-token" content="{token}">'
        '<script src="/livetemplate-client.js" defer></script></head><body>hello</body></html>'
    )
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=lax" in response.headers["set-cookie"].lower()
    assert "path=/;" in response.headers["set-cookie"].lower()


def test_push_inside_an_action_of_the_same_page(app: Application) -> None:
    page = app.new_page("names", {"title": "t"})
    page.register_data_model(Pusher())
    tab = Sink()
    page.attach(tab)
    act(page, "go", tab)
    assert tab.messages[1]["tree"] == {"0": "pushed"} and page.html().startswith("<h1>pushed")


class Notifier:
    names: list[str] = []

    def ping(self, ctx: ActionContext) -> None:
        ctx.push_event("pong", {"n": ctx.get_int("n")})
        ctx.push_event("bare")

    def fail(self, ctx: ActionContext) -> None:
        ctx.push_event("never")
        raise RuntimeError("boom")


def test_events_pushed_by_an_action_answer_its_sender_only(app: Application) -> None:
    page = app.new_page("names", Notifier())
    tab1, tab2 = Sink(), Sink()
    page.attach(tab1)
    page.attach(tab2)
    act(page, "ping", tab1, n=3)
    assert tab1.messages[-1]["meta"]["events"] == [["pong", {"n": 3}], ["bare", None]]
    assert len(tab2.messages) == 1  # nothing changed for it; another tab's events are not its
    with pytest.raises(RuntimeError):
        act(page, "fail", tab1)
    assert all("never" not in json.dumps(m) for m in tab1.messages)


def test_page_push_event_reaches_every_connection(app: Application) -> None:
    page = app.new_page("names", {"title": "a", "names": []})
    tab1, tab2 = Sink(), Sink()
    page.attach(tab1)
    page.attach(tab2)
    page.push_event("tick", {"at": [1, "x"]})
    want = {"tree": {}, "meta": {"events": [["tick", {"at": [1, "x"]}]]}}
    assert tab1.messages[-1] == tab2.messages[-1] == want


@pytest.mark.parametrize(("name", "payload", "error"), [
    ("", None, ValueError), (3, None, ValueError), ("x", object(), TypeError),
    ("x", {1j: 1}, TypeError), ("x", float("nan"), TypeError), ("x", [float("-inf")], TypeError),
    ("x", "lone \ud800", TypeError), ("x", {"deep": [[[[]]]] * 2, "a": "\U0001f600\x00"}, None)])
def test_bad_events_fail_where_they_are_pushed(app: Application, name: Any, payload: Any,
                                                error: type[Exception] | None) -> None:
    page = app.new_page("names", {"title": "a", "names": []})
    tab = Sink()
    page.attach(tab)
    if error is None:  # astral characters and NUL are fine
        page.push_event(name, payload)
        assert tab.messages[-1]["meta"]["events"] == [[name, payload]]
        return
    with pytest.raises(error):
        page.push_event(name, payload)
    assert len(tab.messages) == 1  # nothing sent
    ctx = ActionContext(page, "a", {})
    with pytest.raises(error):
        ctx.push_event(name, payload)
    assert ctx.events == []


# --- tracked page data (the default) ---------------------------------------------------------

ROWS = ('<ul>{% for t in todos %}<li class="{{ "done" if t.done }}">{{ t.title }}</li>'
        "{% endfor %}</ul>{{ note }}")


class Todo:
    def __init__(self, title: str) -> None:
        self.title, self.done = title, False


class Todos:
    def __init__(self, n: int) -> None:
        self.todos = [Todo(f"t{i}") for i in range(n)]

    def toggle(self, ctx: ActionContext) -> None:
        todo = self.todos[ctx.get_int("i")]
        todo.done = not todo.done

    def keep_open(self) -> None:
        self.todos = [t for t in self.todos if not t.done]  # a new plain list


@pytest.mark.parametrize("track_data", [True, False])
def test_page_data_and_model_are_tracked_unless_turned_off(track_data: bool) -> None:
    from lt_engine import TrackedList

    app = Application(secret="test", track_data=track_data)
    app.add_template("rows", ROWS)
    model = Todos(5)
    page = app.new_page("rows", model)
    page.update(note="hi", tags=["a"])
    assert page.model is model and isinstance(model.todos[0], Todo)
    assert (type(model.todos) is TrackedList) is track_data
    assert (type(page.data["tags"]) is TrackedList) is track_data
    rows = model.todos
    before = rows.lt_version if track_data else 0
    act(page, "toggle", i=3)
    assert page.html().count('class="done"') == 1
    if track_data:
        assert rows.lt_changes_since(before) == ([3], 5)  # the row told its list
    act(page, "keep_open")  # assigns a new plain list: tracked as it lands on the model
    assert (type(model.todos) is TrackedList) is track_data and len(model.todos) == 4
    act(page, "toggle", i=0)
    assert page.html().count('class="done"') == 1
    page.update(note="there", tags=["b"])
    assert (type(page.data["tags"]) is TrackedList) is track_data
    assert page.html().endswith("</ul>there")


def test_the_page_lock_hands_over_in_order_and_survives_a_cancelled_waiter() -> None:
    async def test() -> None:
        lock = PageLock()
        assert lock.take_now() and not lock.take_now()
        order: list[str] = []

        async def waiter(name: str) -> None:
            await lock.acquire()
            order.append(name)
            lock.release()

        first = asyncio.ensure_future(waiter("first"))
        cancelled = asyncio.ensure_future(waiter("cancelled"))
        last = asyncio.ensure_future(waiter("last"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.sleep(0)
        lock.release()  # handed to "first", then to "last": the cancelled one is skipped
        await asyncio.gather(first, last)
        assert order == ["first", "last"] and not lock.locked()

    asyncio.run(test())
