"""Streams in Chromium: the chat example's messages between two tabs, and a small stream page
(limit, prepend, update, delete, reset, and a server restart the browser's items survive)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livetemplate import ActionContext, Application, Stream
from tests.browser.conftest import LiveServer, open_live

FEED = """<!doctype html><html><head><title>feed</title></head><body>
<p id="count">{{ count }}</p>
<ul id="feed">{% for m in stream("items") %}<li id="m-{{ m.id }}">{{ m.text }}</li>{% endfor %}</ul>
<button id="add" lvt-click="add">add</button> <button id="top" lvt-click="top">top</button>
<button id="edit" lvt-click="edit" lvt-value-id="2">edit 2</button>
<button id="drop" lvt-click="drop" lvt-value-id="3">drop 3</button>
<button id="reset" lvt-click="restart">reset</button>
</body></html>"""


class Feed:
    def __init__(self) -> None:
        self.items = Stream([{"id": 1, "text": "one"}], limit=4)
        self.count = 1

    def add(self) -> None:
        self.count += 1
        self.items.append({"id": self.count, "text": f"item {self.count}"})

    def top(self) -> None:
        self.count += 1
        self.items.prepend({"id": self.count, "text": f"top {self.count}"})

    def edit(self, ctx: ActionContext) -> None:
        self.items.update({"id": ctx.get_int("id"), "text": "edited"})

    def drop(self, ctx: ActionContext) -> None:
        self.items.delete_key(ctx.get_str("id"))

    def restart(self) -> None:
        self.items.reset([{"id": 100, "text": "fresh"}])


def feed_app() -> Starlette:
    live = Application()
    live.add_template("feed", FEED)

    async def index(request: Request) -> Response:
        return live.new_page("feed", Feed()).serve_http(request)

    return Starlette(routes=[Route("/", index), *live.routes("/ws")])


def texts(page: Any, selector: str) -> list[str]:
    return list(page.locator(selector).all_inner_texts())


def test_a_stream_page_inserts_updates_deletes_trims_and_resets(page: Any) -> None:
    server = LiveServer(feed_app()).start()
    try:
        open_live(page, server.url)
        assert texts(page, "#feed li") == ["one"]
        page.click("#add")
        page.click("#add")
        expect(page.locator("#count")).to_have_text("3")
        expect(page.locator("#feed li")).to_have_text(["one", "item 2", "item 3"])
        page.click("#edit")  # updated where it stands
        expect(page.locator("#feed li")).to_have_text(["one", "edited", "item 3"])
        page.click("#add")
        page.click("#add")  # five items, limit 4: the oldest goes
        expect(page.locator("#feed li")).to_have_text(["edited", "item 3", "item 4", "item 5"])
        page.click("#top")  # a prepend drops from the end
        expect(page.locator("#feed li")).to_have_text(["top 6", "edited", "item 3", "item 4"])
        page.click("#drop")
        expect(page.locator("#feed li")).to_have_text(["top 6", "edited", "item 4"])
        # The connection drops and comes back: its first message is a full tree, whose stream
        # holds nothing now (the server keeps no item); the browser keeps the items it has.
        page.evaluate("window.fulls = 0; document.addEventListener('lvt:update',"
                      " (e) => { if (e.detail.full) window.fulls++; })")
        page.evaluate("window.liveTemplate.ws.close()")
        page.wait_for_function("window.fulls === 1")
        expect(page.locator("body")).to_have_class(re.compile(r"\blvt-connected\b"))
        expect(page.locator("#feed li")).to_have_text(["top 6", "edited", "item 4"])
        page.click("#add")
        expect(page.locator("#feed li")).to_have_text(["top 6", "edited", "item 4", "item 7"])
        page.click("#reset")
        expect(page.locator("#feed li")).to_have_text(["fresh"])
    finally:
        server.stop()


def test_chat_messages_are_streamed_to_both_tabs_and_kept_by_neither_server(
        context: Any, chat_server: LiveServer) -> None:
    tab1, tab2 = context.new_page(), context.new_page()
    open_live(tab1, chat_server.url)
    open_live(tab2, chat_server.url)
    tab1.fill("#author", "ann")
    tab1.fill("#message", "streamed hello")
    tab1.press("#message", "Enter")
    expect(tab2.locator("#messages li").last).to_have_text("ann streamed hello")
    expect(tab1.locator("#messages li").last).to_have_text("ann streamed hello")
    # A third tab opened now gets the page from the server: the message is not in it.
    tab3 = context.new_page()
    open_live(tab3, chat_server.url)
    assert "streamed hello" not in tab3.content()
    tab3.fill("#message", "from three")
    tab3.press("#message", "Enter")
    for tab in (tab1, tab2, tab3):
        expect(tab.locator("#messages li").last).to_have_text("anonymous from three")
    expect(tab1.locator("#messages li", has_text="streamed hello")).to_have_count(1)


def test_a_live_navigation_to_another_stream_page_keeps_none_of_the_first(page: Any) -> None:
    nav = FEED.replace("</body>", '<a id="go" href="/" lvt-navigate>again</a></body>')
    live = Application(secret="browser-streams-navigation")
    live.add_template("feed", nav)

    async def index(request: Request) -> Response:
        return live.new_page("feed", Feed()).serve_http(request)

    server = LiveServer(Starlette(routes=[Route("/", index), *live.routes("/ws")])).start()
    try:
        open_live(page, server.url)
        page.evaluate("window.sameDocument = true")
        page.click("#add")
        expect(page.locator("#feed li")).to_have_text(["one", "item 2"])
        page.click("#go")  # a new page of the same template, joined over the same socket
        expect(page.locator("#count")).to_have_text("1")
        expect(page.locator("#feed li")).to_have_text(["one"])
        assert page.evaluate("window.sameDocument === true")
    finally:
        server.stop()
