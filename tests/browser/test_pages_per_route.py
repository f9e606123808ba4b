"""Two shared-page routes of one app in one browser, on both page stores: each route keeps its
own page (one token cookie per path), and the page token never appears in a URL the browser
requests (it reaches the WebSocket as a subprotocol), so no access log records it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livetemplate import Application, PageLookupError
from tests.browser.conftest import LiveServer, open_live, serve
from tests.fake_shared_store import FakeSharedStore


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.count += 1


class Signup:
    def __init__(self) -> None:
        self.name = "nobody"

    def save(self, ctx: Any) -> None:
        self.name = ctx.get_str("name")


COUNTER = ('<html><head></head><body><span id="count">{{ count }}</span>'
           '<button id="inc" lvt-click="increment">+</button></body></html>')
SIGNUP = ('<html><head></head><body><b id="name">{{ name }}</b><form lvt-submit="save">'
          '<input name="name"><button id="save">save</button></form></body></html>')


@pytest.fixture(scope="module", params=["memory", "shared"])
def server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    live = Application(secret="browser-routes",
                       store=FakeSharedStore() if request.param == "shared" else None)
    live.add_template("counter", COUNTER)
    live.add_template("signup", SIGNUP)

    def route(name: str, model: Any) -> Any:
        async def endpoint(request: Request) -> Response:  # the documented Pattern 2
            try:
                page = await live.load_page(request, name)
            except PageLookupError:
                page = live.new_page(name, model())
            return page.serve_http(request)
        return endpoint

    yield from serve(Starlette(routes=[Route("/shared", route("counter", Counter)),
                                       Route("/signup", route("signup", Signup)),
                                       *live.routes("/ws")]))


def test_each_route_keeps_its_page_and_no_url_carries_a_token(context: Any,
                                                            server: LiveServer) -> None:
    urls: list[str] = []
    tab = context.new_page()
    tab.on("request", lambda r: urls.append(r.url))
    tab.on("websocket", lambda ws: urls.append(ws.url))
    open_live(tab, f"{server.url}/shared")
    tab.click("#inc")
    expect(tab.locator("#count")).to_have_text("1")

    open_live(tab, f"{server.url}/signup")  # the other route: its own page
    tab.fill("input[name=name]", "ada")
    tab.click("#save")
    expect(tab.locator("#name")).to_have_text("ada")

    open_live(tab, f"{server.url}/shared")  # back: the same shared page, not the signup one
    expect(tab.locator("#count")).to_have_text("1")
    other = open_live(context.new_page(), f"{server.url}/shared")  # a second tab shares it
    expect(other.locator("#count")).to_have_text("1")
    other.click("#inc")
    expect(tab.locator("#count")).to_have_text("2")  # live in both
    open_live(tab, f"{server.url}/signup")
    expect(tab.locator("#name")).to_have_text("ada")

    tokens = {tab.get_attribute('meta[name="livetemplate-token"]', "content"),
              other.get_attribute('meta[name="livetemplate-token"]', "content")}
    sockets = [url for url in urls if url.startswith("ws")]
    assert len(sockets) >= 4 and all(url.endswith("/ws") for url in sockets)
    assert not [url for url in urls if "cache_token" in url or any(t in url for t in tokens)]
