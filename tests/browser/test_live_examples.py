"""The example apps, live in Chromium: clicks, shared pages, reconnects, the HTTP fallback."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from starlette.applications import Starlette

from livetemplate import Application
from tests.browser.conftest import LIVE, LiveServer, open_live

EVENTS = """() => { window.lvtEvents = [];
  for (const name of ['lvt:connected', 'lvt:disconnected', 'lvt:update', 'lvt:error'])
    document.addEventListener(name, (e) => window.lvtEvents.push([name, e.detail])); }"""
NO_WEBSOCKET = """window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: '' }), 0); }
  send() {} close() {} };"""


def events(page: Any) -> list[str]:
    return [name for name, _ in page.evaluate("window.lvtEvents")]


def test_counter_clicks_update_count(page: Any, counter_server: LiveServer) -> None:
    open_live(page, counter_server.url)
    for expected in ("1", "2", "3"):
        page.click("#inc")
        expect(page.locator("#count")).to_have_text(expected)
    for _ in range(4):
        page.click("#dec")
    expect(page.locator("#count")).to_have_text("-1")
    expect(page.locator("p.note")).to_have_text("Below zero.")
    page.click("#inc")
    expect(page.locator("p.note")).to_have_count(0)
    expect(page.locator("#inc")).not_to_have_class("lvt-loading")
    page.evaluate(EVENTS)
    page.evaluate("window.liveTemplate.send('no_such_action')")
    page.wait_for_function("() => window.lvtEvents.some(([n, d]) => n === 'lvt:error'"
                           " && d.code === 'unknown_action')")
    page.click("#inc")  # the connection stays open
    expect(page.locator("#count")).to_have_text("1")
    assert "lvt:update" in events(page)


def test_counter_pages_are_per_connection(context: Any, counter_server: LiveServer) -> None:
    first, second = open_live(context.new_page(), counter_server.url), context.new_page()
    open_live(second, counter_server.url)
    first.click("#inc")
    expect(first.locator("#count")).to_have_text("1")
    expect(second.locator("#count")).to_have_text("0")


def test_two_tabs_share_a_dashboard(context: Any, dashboard_server: LiveServer) -> None:
    one = open_live(context.new_page(), dashboard_server.url)
    two = open_live(context.new_page(), dashboard_server.url)  # same page, through the cookie
    one.click("#inc")
    for tab in (one, two):
        expect(tab.locator("#count")).to_have_text("1")
    two.click("#inc")
    for tab in (one, two):
        expect(tab.locator("#count")).to_have_text("2")
        expect(tab.locator("#events li")).to_have_text(["count went up to 1", "count went up to 2"])
    two.fill("#note-form input[name=text]", "hello <world>")
    two.press("#note-form input[name=text]", "Enter")
    for tab in (one, two):
        expect(tab.locator("#events li").last).to_have_text("hello <world>")
    expect(two.locator("#note-form input[name=text]")).to_have_value("")  # reset on success
    two.click("#note-form button")
    for tab in (one, two):
        expect(tab.locator("#text-error")).to_have_text("Write something first.")


def test_todo_add_toggle_delete(page: Any, todo_server: LiveServer) -> None:
    open_live(page, todo_server.url)
    for title in ("milk", "eggs"):
        page.fill("input[name=title]", title)
        page.press("input[name=title]", "Enter")
        expect(page.locator("#todos li").last).to_contain_text(title)
    page.locator("#todos li").first.locator("input[type=checkbox]").click()
    expect(page.locator("#todos li").first).to_have_class("done")
    expect(page.locator("#todos li").first.locator("input[type=checkbox]")).to_be_checked()
    expect(page.locator("#remaining")).to_have_text("1 left")
    page.click("#clear")
    expect(page.locator("#todos li")).to_have_count(1)
    page.locator("#todos li button.delete").click()
    expect(page.locator("#todos li")).to_have_count(0)


def test_server_restart_reconnects_and_resyncs(page: Any) -> None:
    from examples.dashboard.app import app, live

    server = LiveServer(app).start()
    try:
        open_live(page, server.url)
        page.evaluate(EVENTS)
        page.click("#inc")
        expect(page.locator("#count")).to_have_text("1")
        token = page.get_attribute('meta[name="livetemplate-token"]', "content")
        server.stop()
        page.wait_for_function("() => window.lvtEvents.some(([n]) => n === 'lvt:disconnected')")
        live.page_for_token(token).update(count=42)  # changed while the client was away
        server.start()
        expect(page.locator("#count")).to_have_text("42")
        page.click("#inc")
        expect(page.locator("#count")).to_have_text("43")
        assert events(page).count("lvt:connected") == 1
    finally:
        server.stop()


def test_pattern1_page_resumes_after_restart(page: Any) -> None:
    from examples.counter.app import TEMPLATES, Counter, app

    server = LiveServer(app).start()
    try:
        open_live(page, server.url)
        page.click("#inc")
        page.click("#inc")
        expect(page.locator("#count")).to_have_text("2")
        server.stop()
        page.wait_for_function("() => !window.liveTemplate.ws")
        server.start()
        page.wait_for_function("() => window.liveTemplate.ws && window.liveTemplate.ws.readyState === 1")
        page.click("#inc")  # the same page, found again through the page_token
        expect(page.locator("#count")).to_have_text("3")
        # A new process with another secret: the old token is refused, the client starts over.
        other = Application(secret="another-secret")
        other.parse_files(TEMPLATES / "*.html")
        server.stop()
        server.app = Starlette(routes=other.routes(
            "/ws", new_page=lambda ws: other.new_page("counter", Counter())))
        server.start()
        expect(page.locator("#count")).to_have_text("0")
        page.click("#inc")
        expect(page.locator("#count")).to_have_text("1")
    finally:
        server.stop()


def test_http_fallback_when_websocket_cannot_open(context: Any,
                                                  dashboard_server: LiveServer) -> None:
    page = context.new_page()
    page.add_init_script(NO_WEBSOCKET)
    page.goto(dashboard_server.url)
    page.wait_for_function("() => !!window.liveTemplate")
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("2")
    assert page.evaluate(LIVE)


def test_chat_two_tabs_hooks_and_members(context: Any, chat_server: LiveServer) -> None:
    tab1, tab2 = context.new_page(), context.new_page()
    open_live(tab1, chat_server.url)
    open_live(tab2, chat_server.url)
    tab1.fill("#author", "ann")
    tab1.fill("#message", "hello from tab 1")
    tab1.press("#message", "Enter")
    expect(tab2.locator("#messages li").last).to_have_text("ann hello from tab 1")
    expect(tab1.locator("#message")).to_have_value("")  # the server event 'sent' cleared it
    expect(tab1.locator("#author")).to_have_value("ann")
    tab2.fill("#message", "hi back")
    tab2.press("#message", "Enter")
    expect(tab1.locator("#messages li").last).to_have_text("anonymous hi back")
    for i in range(30):  # more than the list shows: the ScrollDown hook keeps the newest in view
        tab1.evaluate("(t) => window.liveTemplate.send('send', {author: 'ann', text: t})", f"m{i}")
    expect(tab2.locator("#messages li").last).to_have_text("ann m29")
    tab2.wait_for_function("""() => { const m = document.getElementById('messages');
        return m.scrollHeight > m.clientHeight && m.scrollTop + m.clientHeight >= m.scrollHeight - 1; }""")
    # The members panel opens and closes in the browser only, and stays open across updates.
    tab2.click("#toggle-members")
    expect(tab2.locator("#members")).to_be_visible()
    expect(tab1.locator("#members")).to_be_hidden()
    tab1.evaluate("window.liveTemplate.send('send', {author: 'bob', text: 'new member'})")
    expect(tab2.locator("#members li")).to_have_text(["ann", "anonymous", "bob"])
    expect(tab2.locator("#members")).to_be_visible()
    tab2.click("#toggle-members")
    expect(tab2.locator("#members")).to_be_hidden()
    assert "lvt-connected" in (tab1.get_attribute("body", "class") or "")
