"""Live navigation (``livetemplate.navigation``): URL params through ``handle_params``, actions
that patch / navigate / redirect, moving a WebSocket to another page, and bad navigation
messages refused without touching any page."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from livetemplate import (
    ActionContext,
    Application,
    Limits,
    Page,
    RedisStore,
    ValidationError,
    protocol,
)
from livetemplate.endpoints import CLIENT_FILE
from livetemplate.flash import COOKIE, MAX_AGE
from livetemplate.navigation import change_url, join, message, query_params
from livetemplate.protocol import ERRORS, MAX_URL_CHARS
from livetemplate.testing import mount
from tests.fake_shared_store import FakeSharedStore
from tests.redis_server import free_port, redis_server

LIST = ('<p id="f">{{ filter }}</p><p id="page">{{ page }}</p><p id="url">{{ url }}</p>'
        '{% for k, v in flash.items() %}<i class="{{ k }}">{{ v }}</i>{% endfor %}'
        '{% if errors.page %}<b>{{ errors.page }}</b>{% endif %}')
OTHER = '<h1>other {{ n }}</h1>{% for k, v in flash.items() %}<i class="{{ k }}">{{ v }}</i>{% endfor %}'


class Listing:
    def __init__(self) -> None:
        self.filter, self.page, self.url, self.tags = "all", 1, "", []
        self.seen: list[QueryParams] = []

    def handle_params(self, params: QueryParams, ctx: ActionContext) -> None:
        self.seen.append(params)
        if params.get("page") == "0":
            raise ValidationError(page="Pages start at 1.")
        self.filter = params.get("filter", "all")
        self.page = ctx.get_int("page", 1)  # ctx.data is the query
        self.tags = params.getlist("tag")
        self.url = ctx.url or ""
        if self.filter == "shout":
            ctx.flash("info", "LOUD")

    def saved(self, ctx: ActionContext) -> None:
        ctx.flash("info", "Saved.")
        ctx.patch("?filter=saved", replace=ctx.get_bool("replace", False))

    def leave(self, ctx: ActionContext) -> None:
        ctx.flash("info", "Bye.")
        ctx.navigate(ctx.get_str("to", "/other"))

    def logout(self, ctx: ActionContext) -> None:
        ctx.redirect(ctx.get_str("to", "https://example.com/login?next=%2F"))

    def refused(self, ctx: ActionContext) -> None:
        ctx.redirect("/elsewhere")
        raise ValidationError(page="no")

    def go_bad(self, ctx: ActionContext) -> None:
        getattr(ctx, ctx.get_str("how"))(ctx.get("to"))


class Other:
    def __init__(self) -> None:
        self.n = 0

    def bump(self) -> None:
        self.n += 1


class AsyncListing(Listing):
    async def handle_params(self, params: QueryParams, ctx: ActionContext) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.filter = params.get("filter", "all")


def make_app(store: Any = None) -> Application:
    app = Application(secret="nav-test", store=store, limits=Limits(rate=None))
    app.add_template("list", LIST)
    app.add_template("other", OTHER)
    return app


@pytest.fixture(params=["memory", "shared"])
def app(request: pytest.FixtureRequest) -> Application:
    return make_app(FakeSharedStore() if request.param == "shared" else None)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# --- params: the URL as page state --------------------------------------------------------------

def test_a_url_change_runs_handle_params_and_sends_the_minimal_update(app: Application) -> None:
    page = app.new_page("list", Listing())
    with mount(app, page) as tab, mount(app, page) as other_tab:
        reply = run(change_url(page, "/items?filter=done&page=3&tag=a&tag=b", tab))
        assert reply["tree"] == {"0": "done", "1": "3", "2": "/items?filter=done&amp;page=3&amp;tag=a&amp;tag=b"}
        assert reply["meta"] == {"action": "handle_params", "success": True, "errors": {}}
        assert page.model.tags == ["a", "b"]
        assert other_tab.html == tab.html == page.html()  # a page's URL state is the page's
        assert other_tab.meta == {}  # the reply's meta is the sender's only


def test_handle_params_is_not_an_action(app: Application) -> None:
    page = app.new_page("list", Listing())
    assert "handle_params" not in page.actions
    reply = run(app.handle_action(page, {"action": "handle_params", "data": {"url": "/"}}))
    assert reply["code"] == "unknown_action"
    assert page.model.seen == []


def test_a_page_without_handle_params_takes_a_url_change_as_nothing(app: Application) -> None:
    page = app.new_page("other", Other())
    assert run(change_url(page, "/x?y=1"))["tree"] == {}
    plain = app.new_page("other", {"n": 5})
    assert run(change_url(plain, "/x"))["tree"] == {}


def test_handle_params_validation_and_a_url_change_keep_the_flash(app: Application) -> None:
    page = app.new_page("list", Listing())
    run(page.run_action("saved", {}))
    assert '<i class="info">Saved.</i>' in page.html()
    reply = run(change_url(page, "/?page=0"))
    assert reply["meta"]["errors"] == {"page": "Pages start at 1."}
    assert "<b>Pages start at 1.</b>" in page.html()
    assert '<i class="info">Saved.</i>' in page.html()  # a URL change is no reason to hide it
    run(change_url(page, "/?filter=shout"))
    assert '<i class="info">LOUD</i>' in page.html() and "<b>" not in page.html()
    run(page.run_action("leave", {}))  # an action replaces it
    assert '<i class="info">Bye.</i>' in page.html()


def test_async_handle_params_over_the_connection() -> None:
    app = make_app()
    page = app.new_page("list", AsyncListing())
    assert run(change_url(page, "/?filter=late"))["tree"] == {"0": "late"}


# --- the HTTP render sees the same URL ----------------------------------------------------------

def http_app(app: Application, model: type = Listing) -> Starlette:
    async def index(request: Request) -> Response:
        try:
            page = await app.load_page(request)
        except LookupError:
            page = app.new_page("list", model())
        return page.serve_http(request)

    async def other(request: Request) -> Response:
        return app.new_page("other", Other()).serve_http(request)

    return Starlette(routes=[Route("/", index), Route("/other", other), *app.routes("/ws")])


def test_serve_http_calls_handle_params_with_the_request_url(app: Application) -> None:
    with TestClient(http_app(app)) as client:
        html = client.get("/?filter=done&page=2").text
        assert '<p id="f">done</p><p id="page">2</p><p id="url">/?filter=done&amp;page=2</p>' in html
        assert '<p id="f">all</p><p id="page">1</p><p id="url">/</p>' in client.get("/").text
        page = next(iter(app.pages))
        assert [dict(p) for p in page.model.seen] == [{"filter": "done", "page": "2"}, {}]


def test_serve_http_refuses_an_async_handle_params_with_the_way_out() -> None:
    app = make_app()
    with TestClient(http_app(app, AsyncListing), raise_server_exceptions=True) as client:
        with pytest.raises(TypeError, match="handle_params is async, and page.serve_http"):
            client.get("/?filter=x")


# --- actions that go somewhere ------------------------------------------------------------------

def test_patch_navigate_and_redirect_ride_in_the_reply_meta(app: Application) -> None:
    page = app.new_page("list", Listing())
    assert run(page.run_action("saved", {}))["meta"]["patch"] == "?filter=saved"
    meta = run(page.run_action("saved", {"replace": True}))["meta"]
    assert meta["patch"] == "?filter=saved" and meta["replace"] is True
    assert "flash" not in meta  # a patch keeps the page: its flash shows there
    meta = run(page.run_action("leave", {}))["meta"]
    assert meta["navigate"] == "/other"
    assert app.flash_signer.read(meta["flash"]) == {"info": "Bye."}
    meta = run(page.run_action("logout", {}))["meta"]
    assert meta["redirect"] == "https://example.com/login?next=%2F" and "flash" not in meta
    meta = run(page.run_action("refused", {}))["meta"]
    assert meta["success"] is False and "redirect" not in meta  # a refused action stays


@pytest.mark.parametrize(("how", "url"), [
    ("patch", "https://example.com/"), ("navigate", "//evil.example/"), ("patch", ""),
    ("redirect", "javascript:alert(1)"), ("navigate", "/a\nb"), ("patch", 7),
    ("redirect", "/" + "x" * MAX_URL_CHARS), ("navigate", "/\ud800"), ("patch", "\\\\evil"),
])
def test_a_bad_url_fails_the_action_and_sends_no_navigation(how: str, url: Any) -> None:
    app = make_app()
    page = app.new_page("list", Listing())
    before = page.html()
    ctx = ActionContext(page, "go_bad", {})
    with pytest.raises((ValueError, TypeError)):
        getattr(ctx, how)(url)
    assert ctx.goto is None
    reply = run(app.handle_action(page, {"action": "go_bad", "data": {"how": how, "to": url}}))
    assert reply["code"] in ("action_failed", "bad_data") and page.html() == before


def test_a_navigation_carries_its_flash_to_the_next_http_render(app: Application) -> None:
    with TestClient(http_app(app)) as client:
        client.get("/")
        page = next(iter(app.pages))
        meta = run(page.run_action("leave", {}))["meta"]
        client.cookies.set(COOKIE, meta["flash"])  # what the client does with meta.flash
        assert '<i class="info">Bye.</i>' in client.get("/other").text


# --- the WebSocket messages ---------------------------------------------------------------------

def token_of(html: str) -> str:
    return html.split('name="livetemplate-token" content="')[1].split('"')[0]


def offer(token: str) -> list[str]:
    return ["livetemplate", f"livetemplate.token.{token}"]


@pytest.fixture
def served() -> Iterator[tuple[Application, TestClient]]:
    app = make_app()
    with TestClient(http_app(app)) as client:
        yield app, client


def test_params_over_the_websocket(served: tuple[Application, TestClient]) -> None:
    app, client = served
    token = token_of(client.get("/").text)
    with client.websocket_connect("/ws", subprotocols=offer(token)) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "params", "url": "/?filter=done"}))
        reply = ws.receive_json()
        assert reply["tree"]["0"] == "done" and reply["meta"]["action"] == "handle_params"
        ws.send_bytes(json.dumps({"url": "/?page=4", "type": "params"}).encode())  # any order
        assert ws.receive_json()["tree"]["1"] == "4"


def test_join_moves_the_connection_to_another_page(served: tuple[Application, TestClient]) -> None:
    app, client = served
    first = token_of(client.get("/").text)
    second = token_of(client.get("/other").text)
    pages = {p.template_name: p for p in app.pages}
    with client.websocket_connect("/ws", subprotocols=offer(first)) as ws:
        assert ws.receive_json()["tree"]["s"][0].startswith('<p id="f">')
        ws.send_text(json.dumps({"type": "join", "token": second}))
        full = ws.receive_json()
        assert full["tree"]["s"][0] == "<h1>other " and full["tree"]["0"] == "0"
        assert pages["list"].connections == 0 and pages["other"].connections == 1
        ws.send_text(json.dumps({"type": "action", "action": "bump"}))
        assert ws.receive_json()["tree"] == {"0": "1"}  # actions now go to the new page
        run(change_url(pages["list"], "/?filter=gone"))  # the old page's updates no longer come
        ws.send_text(json.dumps({"type": "action", "action": "bump"}))
        assert ws.receive_json()["tree"] == {"0": "2"}
    assert pages["other"].connections == 0  # detached from the page it was on at the end


@pytest.mark.parametrize(("token", "code", "closes"), [
    ("forged.token", "token_invalid", True),
    (None, "bad_message", False), (7, "bad_message", False), ("", "bad_message", False),
    ("\ud800", "token_invalid", True),
])
def test_a_bad_join_touches_no_page(served: tuple[Application, TestClient], token: Any,
                                    code: str, closes: bool) -> None:
    app, client = served
    first = token_of(client.get("/").text)
    page = next(iter(app.pages))
    before = page.html()
    with client.websocket_connect("/ws", subprotocols=offer(first)) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "join", "token": token}))
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code, error
        if closes:
            assert ws.receive()["type"] == "websocket.close"
        else:  # still on its page
            ws.send_text(json.dumps({"type": "params", "url": "/?filter=still"}))
            assert ws.receive_json()["tree"]["0"] == "still"
    assert page.connections == 0
    if closes:
        assert page.html() == before


def test_a_join_to_an_expired_page_closes_the_connection() -> None:
    app = make_app()
    with TestClient(http_app(app)) as client:
        first = token_of(client.get("/").text)
        gone = app.new_page("other", Other())
        token = gone.token
        app.store.delete(gone.id)  # type: ignore[union-attr]
        app.pages.drop(gone.id)
        with client.websocket_connect("/ws", subprotocols=offer(first)) as ws:
            ws.receive_json()
            ws.send_text(json.dumps({"type": "join", "token": token}))
            assert ws.receive_json()["code"] == "page_not_found"
            close = ws.receive()
            assert close["type"] == "websocket.close" and close["code"] == ERRORS["page_not_found"][1]


@pytest.mark.parametrize("url", [
    None, 3, "", "https://evil.example/", "//evil.example", "x" * (MAX_URL_CHARS + 1),
    "/a\x00b", "/\udfff", "javascript:alert(1)", "/a\\b", ["/"], {"u": "/"},
])
def test_a_bad_params_url_is_refused_and_the_connection_stays(
        served: tuple[Application, TestClient], url: Any) -> None:
    app, client = served
    token = token_of(client.get("/").text)
    page = next(iter(app.pages))
    before, seen = page.html(), len(page.model.seen)
    with client.websocket_connect("/ws", subprotocols=offer(token)) as ws:
        ws.receive_json()
        ws.send_text(json.dumps({"type": "params", "url": url}))
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == "bad_message"
        assert "url" in error["message"]
        assert page.html() == before and len(page.model.seen) == seen
        ws.send_text(json.dumps({"type": "params", "url": "/?filter=ok"}))
        assert ws.receive_json()["tree"]["0"] == "ok"


def test_navigation_messages_obey_the_frame_limit() -> None:
    app = Application(secret="nav-test", limits=Limits(max_message_bytes=200))
    app.add_template("list", LIST)
    with TestClient(http_app(app)) as client:
        token = token_of(client.get("/").text)
        with client.websocket_connect("/ws", subprotocols=offer(token)) as ws:
            ws.receive_json()
            ws.send_text(json.dumps({"type": "params", "url": "/?q=" + "x" * 300}))
            assert ws.receive_json()["code"] == "too_large"


def test_navigation_messages_are_websocket_only(served: tuple[Application, TestClient]) -> None:
    app, client = served
    token = token_of(client.get("/").text)
    response = client.post("/ws", json={"type": "params", "url": "/?filter=x", "token": token})
    assert response.status_code == 400 and "params" in response.json()["message"]


def test_the_cheap_test_for_a_navigation_message() -> None:
    assert message('{"type":"action","action":"params"}') is None
    assert message('{"action":"x","data":{"t":"join"}}') is None  # decoded, but an action
    assert message('{"type":"join"') is None and message(b"\xff\xfe") is None
    assert message('{"type":"params","url":"/"}') == {"type": "params", "url": "/"}
    assert message(b'{"type": "join", "token": "t"}') == {"type": "join", "token": "t"}
    assert query_params("/a?x=1&x=2&y=%20").getlist("x") == ["1", "2"]


# --- fuzz: any navigation message, interleaved on two pages -----------------------------------

any_text = st.text(st.characters(exclude_categories=()), max_size=20) | st.sampled_from(
    ["\ud800", "a\udfffb", "\x00", "😀", "\U0010ffff", "/?f=\ud83d", "/?f=\x00", "//x", "/ok"])
values = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([2**63, -(2**1000)]),
                   st.floats(allow_nan=False), any_text,
                   st.lists(st.integers(), max_size=2), st.dictionaries(any_text, any_text, max_size=2))
nav_messages = st.one_of(
    st.fixed_dictionaries({"type": st.just("params"), "url": st.one_of(values, any_text.map(
        lambda t: "/?filter=" + t))}),
    st.fixed_dictionaries({"type": st.just("join"), "token": values}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(nav_messages, min_size=1, max_size=8))
def test_hostile_navigation_messages_get_a_named_error_or_change_only_their_page(
        msgs: list[dict[str, Any]]) -> None:
    app = make_app()
    with TestClient(http_app(app)) as client:
        token = token_of(client.get("/").text)
        page = next(iter(app.pages))
        bystander: Page = app.new_page("list", Listing())
        untouched = bystander.html()
        with client.websocket_connect("/ws", subprotocols=offer(token)) as ws:
            ws.receive_json()
            for msg in msgs:
                text = json.dumps(msg)
                ws.send_text(text)
                reply = ws.receive_json()
                if reply.get("type") == "error":
                    assert reply["code"] in ERRORS and reply["code"] != "action_failed", reply
                    if msg["type"] == "join" and reply["code"] != "bad_message":
                        break  # refused like a connect with that token: closed
                else:
                    assert msg["type"] == "params"
                    assert page.model.filter == query_params(msg["url"]).get("filter", "all")
        assert bystander.html() == untouched and bystander.model.seen == []


# --- on Redis: two workers -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from redis_server(tmp_path_factory.mktemp("redis-nav"))


class Sink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.closed = False

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))

    def close(self, code: int, reason: str, error_code: str | None = None) -> None:
        self.closed = True


def test_url_changes_flashes_and_joins_across_workers_on_redis(redis: Any) -> None:
    prefix = f"nav{free_port()}:"

    async def main() -> None:
        a, b = (make_app(RedisStore(redis.url, prefix=prefix)) for _ in range(2))
        try:
            page = a.new_page("list", Listing())
            other = a.new_page("other", Other())
            await page.flush()
            await other.flush()
            here = Sink()
            await page.connect(here)
            there = await b.load_page(page.token)
            reply = await change_url(there, "/?filter=b&page=2")  # on the other worker
            assert reply["tree"]["0"] == "b"
            deadline = asyncio.get_running_loop().time() + 5
            while len(here.messages) < 2:  # the first worker's connection hears of it
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            assert here.messages[1]["tree"]["0"] == "b" and page.model.filter == "b"
            await b.handle_action(there, {"action": "saved"})  # a flash, stored with the page
            assert '<i class="info">Saved.</i>' in (await a.load_page(page.token)).html()
            tab = Sink()
            await there.connect(tab)
            moved = await join(b, there, other.token, tab)  # worker b serves the other page too
            assert moved.template_name == "other" and tab.messages[-1]["tree"]["s"][0] == "<h1>other "
            assert there.connections == 0 and moved.connections == 1
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())


def test_the_client_speaks_these_names() -> None:
    # One table of names (protocol.py, flash.py); the client spells them out.
    source = CLIENT_FILE.read_text()
    for key in (protocol.PATCH, protocol.NAVIGATE, protocol.REDIRECT, protocol.REPLACE,
                protocol.FLASH):
        assert f"meta.{key}" in source, key
    assert f"type: '{protocol.TYPE_PARAMS}', {protocol.URL}:" in source
    assert f"type: '{protocol.TYPE_JOIN}', {protocol.TOKEN}:" in source
    assert f"`{COOKIE}=${{meta.flash}};path=/;max-age={int(MAX_AGE)};" in source
