"""Live navigation in Chromium: patch + back/forward + reload (the todo filter), navigation
between two live pages over one WebSocket without a reload, redirects, and flash messages that
show once (docs/client.md, Navigation)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livetemplate import ActionContext, Application
from tests.browser.conftest import LIVE, LiveServer, open_live, serve

FLASH = '{% for k, v in flash.items() %}<p class="flash {{ k }}">{{ v }}</p>{% endfor %}'
HOME = ("<html><head><title>Home {{ tab }}</title></head><body>" + FLASH +
        '<p id="tab">{{ tab }}</p><p id="count">{{ count }}</p>'
        '<a id="tab-b" href="?tab=b" lvt-patch>b</a> <a id="tab-c" href="?tab=c" lvt-patch'
        ' lvt-replace>c</a> <a id="to-other" href="/other?from=link" lvt-navigate>other</a>'
        ' <a id="plain" href="/other">plain</a> <a id="away" href="/static" lvt-navigate>static</a>'
        '<button id="inc" lvt-click="increment">+</button>'
        '<button id="save" lvt-click="save">save</button>'
        '<button id="patch" lvt-click="patch_d">d</button>'
        '<button id="navigate" lvt-click="go_other">go</button>'
        '<button id="redirect" lvt-click="leave">leave</button></body></html>')
OTHER = ("<html><head><title>Other</title></head><body>" + FLASH +
         '<h1 id="other">other from {{ came_from }}</h1><p id="n">{{ n }}</p>'
         '<button id="bump" lvt-click="bump">+</button>'
         '<a id="home" href="/?tab=h" lvt-navigate>home</a></body></html>')


class Home:
    def __init__(self) -> None:
        self.tab, self.count = "a", 0

    def handle_params(self, params: QueryParams, ctx: ActionContext) -> None:
        self.tab = params.get("tab", "a")

    def increment(self) -> None:
        self.count += 1

    def save(self, ctx: ActionContext) -> None:
        ctx.flash("info", f"Saved {self.count}.")

    def patch_d(self, ctx: ActionContext) -> None:
        ctx.patch("?tab=d")

    def go_other(self, ctx: ActionContext) -> None:
        ctx.flash("info", "Moved over.")
        ctx.navigate("/other?from=action")

    def leave(self, ctx: ActionContext) -> None:
        ctx.flash("info", "Redirected.")
        ctx.redirect("/other?from=redirect")


class Other:
    def __init__(self) -> None:
        self.came_from, self.n = "", 0

    def handle_params(self, params: QueryParams, ctx: ActionContext) -> None:
        self.came_from = params.get("from", "nowhere")

    def bump(self) -> None:
        self.n += 1


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = Application(secret="browser-navigation")
    live.add_template("home", HOME)
    live.add_template("other", OTHER)

    async def home(request: Request) -> Response:
        return live.new_page("home", Home()).serve_http(request)  # a new page per load

    async def other(request: Request) -> Response:
        return live.new_page("other", Other()).serve_http(request)

    async def static(request: Request) -> Response:
        return Response("<html><body><p id='static'>not live</p></body></html>",
                        media_type="text/html")

    yield from serve(Starlette(routes=[Route("/", home), Route("/other", other),
                                       Route("/static", static), *live.routes("/ws")]))


def mark(page: Any) -> None:
    """A marker only this document has: gone after any full page load."""
    page.evaluate("window.lvtMarker = 'same document'; window.lvtSockets = 0;"
                  "const W = window.WebSocket; window.WebSocket = class extends W {"
                  " constructor(...a) { super(...a); window.lvtSockets++; } }; true")


def same_document(page: Any) -> bool:
    return page.evaluate("window.lvtMarker === 'same document'")


def test_a_patch_link_pushes_the_url_and_back_and_forward_restore_it(
        page: Any, server: LiveServer) -> None:
    open_live(page, server.url + "/")
    mark(page)
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    page.click("#tab-b")
    expect(page.locator("#tab")).to_have_text("b")
    assert page.url == server.url + "/?tab=b"
    page.click("#patch")  # an action's ctx.patch: the client pushes the URL, then its params
    expect(page.locator("#tab")).to_have_text("d")
    assert page.url == server.url + "/?tab=d"
    page.go_back()
    expect(page.locator("#tab")).to_have_text("b")
    assert page.url == server.url + "/?tab=b"
    page.go_back()
    expect(page.locator("#tab")).to_have_text("a")
    page.go_forward()
    expect(page.locator("#tab")).to_have_text("b")
    page.click("#tab-c")  # lvt-replace: no new entry
    expect(page.locator("#tab")).to_have_text("c")
    page.go_back()
    expect(page.locator("#tab")).to_have_text("a")
    assert same_document(page) and page.locator("#count").inner_text() == "1"  # the same page
    page.go_forward()
    expect(page.locator("#tab")).to_have_text("c")
    page.reload()  # a reload of the patched URL: the HTTP render sees the same params
    page.wait_for_function(LIVE)
    expect(page.locator("#tab")).to_have_text("c")
    assert not same_document(page)


def test_navigate_moves_to_another_live_page_over_the_same_socket(
        page: Any, server: LiveServer) -> None:
    open_live(page, server.url + "/")
    mark(page)
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    page.click("#to-other")
    expect(page.locator("#other")).to_have_text("other from link")
    assert page.url == server.url + "/other?from=link" and page.title() == "Other"
    page.click("#bump")  # the socket now serves the other page's actions
    expect(page.locator("#n")).to_have_text("1")
    page.go_back()  # back to the first page: fetched and joined again, still no reload
    expect(page.locator("#count")).to_have_text("0")  # a new page per load, as a reload would
    assert page.url == server.url + "/"
    page.click("#navigate")  # ctx.navigate, with a flash carried to the page it loads
    expect(page.locator("#other")).to_have_text("other from action")
    expect(page.locator("p.flash.info")).to_have_text("Moved over.")
    page.click("#bump")
    expect(page.locator("p.flash")).to_have_count(0)  # shown once
    page.click("#home")
    expect(page.locator("#tab")).to_have_text("h")
    assert same_document(page) and page.evaluate("window.lvtSockets") == 0  # one socket


def test_navigate_falls_back_to_a_full_load_where_it_cannot_join(
        page: Any, server: LiveServer) -> None:
    open_live(page, server.url + "/")
    mark(page)
    page.click("#away")  # not a live page: loaded as a link would be
    expect(page.locator("#static")).to_have_text("not live")
    assert not same_document(page)


def test_a_redirect_loads_the_page_and_shows_the_flash_once(page: Any, server: LiveServer) -> None:
    open_live(page, server.url + "/")
    mark(page)
    page.click("#redirect")
    expect(page.locator("#other")).to_have_text("other from redirect")
    expect(page.locator("p.flash.info")).to_have_text("Redirected.")
    assert not same_document(page)
    page.wait_for_function(LIVE)
    page.reload()
    page.wait_for_function(LIVE)
    expect(page.locator("#other")).to_have_text("other from redirect")
    expect(page.locator("p.flash")).to_have_count(0)


def test_a_flash_shows_after_its_action_once(page: Any, server: LiveServer) -> None:
    open_live(page, server.url + "/")
    page.click("#save")
    expect(page.locator("p.flash.info")).to_have_text("Saved 0.")
    page.click("#tab-b")  # a URL change keeps it
    expect(page.locator("#tab")).to_have_text("b")
    expect(page.locator("p.flash.info")).to_have_text("Saved 0.")
    page.click("#inc")  # the next action: gone
    expect(page.locator("#count")).to_have_text("1")
    expect(page.locator("p.flash")).to_have_count(0)


def test_a_modifier_click_leaves_the_link_to_the_browser(page: Any, server: LiveServer) -> None:
    open_live(page, server.url + "/")
    with page.context.expect_page() as opened:
        page.click("#to-other", modifiers=["Control"])
    opened.value.close()
    assert page.url == server.url + "/"  # this tab did not move
    expect(page.locator("#tab")).to_have_text("a")


# --- the todo example: its filter in the query string ---------------------------------------------

def test_todo_filter_in_the_url_back_button_and_reload(page: Any, todo_server: LiveServer) -> None:
    page.context.clear_cookies()
    open_live(page, todo_server.url + "/")
    for title in ("milk", "eggs", "bread"):
        page.fill("#new-title", title)
        page.press("#new-title", "Enter")
        expect(page.locator("#todos li").last).to_contain_text(title)
    page.locator("#todos li").nth(1).locator("input[type=checkbox]").click()
    expect(page.locator("#todos li").nth(1)).to_have_class("done")
    mark(page)
    page.click("a#filter-done")
    expect(page.locator("#todos li")).to_have_count(1)
    assert page.url.endswith("/?filter=done")
    expect(page.locator("a#filter-done")).to_have_class("selected")
    page.click("a#filter-active")
    expect(page.locator("#todos li")).to_have_count(2)
    assert page.url.endswith("/?filter=active")
    page.go_back()  # the previous filter
    expect(page.locator("#todos li")).to_have_count(1)
    expect(page.locator("#todos li")).to_contain_text("eggs")
    assert page.url.endswith("/?filter=done") and same_document(page)
    page.reload()
    page.wait_for_function(LIVE)
    expect(page.locator("#todos li")).to_have_count(1)
    expect(page.locator("a#filter-done")).to_have_class("selected")
    page.goto(todo_server.url + "/?filter=done")  # typed or shared: only the done items
    page.wait_for_function(LIVE)
    expect(page.locator("#todos li")).to_have_count(1)
    expect(page.locator("#todos li")).to_contain_text("eggs")
    page.click("a#filter-all")
    expect(page.locator("#todos li")).to_have_count(3)
    page.go_back()
    expect(page.locator("#todos li")).to_have_count(1)
