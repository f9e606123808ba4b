"""A page whose endpoint is not at the client's default ``/ws`` still goes live: the served
script tag names the endpoint (``data-lvt-url``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livetemplate import Application
from tests.browser.conftest import LiveServer, open_live, serve


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.count += 1


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = Application(secret="browser-live-url")
    live.add_template("counter", '<html><head></head><body><span id="count">{{ count }}</span>'
                                 '<button id="inc" lvt-click="increment">+</button></body></html>')

    async def index(request: Request) -> Response:
        return live.new_page("counter", Counter()).serve_http(request)

    yield from serve(Starlette(routes=[Route("/", index), *live.routes("/live/socket")]))


def test_the_client_connects_to_the_endpoint_the_app_mounted(page: Any,
                                                            server: LiveServer) -> None:
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_live(page, server.url)
    assert page.get_attribute("script[data-lvt-url]", "data-lvt-url") == "/live/socket"
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    assert sockets and all("/live/socket" in url for url in sockets)
