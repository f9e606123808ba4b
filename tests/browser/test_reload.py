"""Dev-mode reload in Chromium: a full tree mid-connection replaces the page, state kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse
from starlette.routing import Route

from livetemplate import Application
from tests.browser.conftest import LiveServer, open_live

BEFORE = '<p>Count: <span id="count">{{ count }}</span></p><button id="inc" lvt-click="increment">+</button>'
AFTER = '<h2>Clicks <b id="count">{{ count }}</b></h2><button id="inc" lvt-click="increment">add</button>'


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.count += 1


def test_reloaded_template_replaces_the_page_without_a_browser_reload(
        page: Any, tmp_path: Path) -> None:
    (tmp_path / "counter.html").write_text(BEFORE)
    live = Application(secret="browser-reload", dev=False)
    live.parse_files(tmp_path / "*.html")

    async def index(request: Request) -> HTMLResponse:
        return live.new_page("counter", Counter()).serve_http(request)

    async def reload(request: Request) -> PlainTextResponse:
        (tmp_path / "counter.html").write_text(AFTER)
        return PlainTextResponse(str(live.reload_template("counter")))

    app = Starlette(routes=[Route("/", index), Route("/reload", reload, methods=["POST"]),
                            *live.routes("/ws")])
    server = LiveServer(app).start()
    try:
        open_live(page, server.url)
        page.evaluate("window.notReloaded = true")  # gone if the browser loads the page again
        page.click("#inc")
        page.click("#inc")
        expect(page.locator("#count")).to_have_text("2")
        assert page.evaluate("fetch('/reload', {method: 'POST'}).then((r) => r.text())") == "1"
        expect(page.locator("h2 b#count")).to_have_text("2")
        expect(page.locator("p")).to_have_count(0)
        assert page.evaluate("window.notReloaded") is True
        page.click("#inc")
        expect(page.locator("h2 b#count")).to_have_text("3")
    finally:
        server.stop()
