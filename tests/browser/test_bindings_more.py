"""More bindings in Chromium: throttle, change, keyup, form-wide input, values, ignore, no-reset,
and a Pattern 2 page whose server-side page is gone.

The server logs every action it runs (name and data) into the page, so each test checks what the
server received, not only the DOM. ``barrier`` makes "nothing else was sent" checkable without
waiting: a WebSocket delivers in order and the server runs a connection's messages one after
the other, so once a ``ping`` sent now has come back, every action sent before it is in the log.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from livetemplate import ActionContext, Application, Limits
from tests.browser.conftest import LiveServer, open_live, serve

MANUAL_CLIENT = """<script src="/livetemplate-client.js" defer data-lvt-manual></script>
<script>document.addEventListener('DOMContentLoaded', () => {
  window.liveTemplate = new LiveTemplateClient({ reloadOnLostPage: false }).connect(); });</script>"""

TEMPLATE = """<!doctype html>
<html><head><title>More bindings</title>{% if manual %}""" + MANUAL_CLIENT + """{% endif %}</head>
<body>
<p><span id="count">{{ count }}</span> <span id="pings">{{ pings }}</span></p>
<ol id="log">{% for entry in log %}<li>{{ entry }}</li>{% endfor %}</ol>
<input id="throttled" name="t" lvt-input="throttled" lvt-throttle="1000">
<select id="color" name="color" lvt-change="picked"><option>red</option><option>green</option></select>
<input id="title" name="title" lvt-change="titled">
<input id="flag" type="checkbox" lvt-change="flagged">
<form id="filters" lvt-change="filtered">
  <select name="sort"><option>new</option><option>old</option></select>
  <input type="checkbox" name="open" checked><input name="q" value="x">
</form>
<form id="typing" lvt-input="typed"><input name="a"><input name="b" value="B"></form>
<input id="keys" name="k" lvt-keyup="keyed">
<input id="enter" name="e" lvt-keyup="entered" lvt-key="Enter">
<a id="link" href="/elsewhere" lvt-click="went" lvt-value-user-id="7" lvt-value-x="y">go</a>
<div id="ignored" lvt-ignore><span id="ignored-count">{{ count }}</span><button id="bump-inside" lvt-click="bump">+</button></div>
<form id="keep" lvt-submit="noted" lvt-no-reset><input name="text"><button>Keep</button></form>
<form id="clear" lvt-submit="noted"><input name="text"><button>Clear</button></form>
</body></html>
"""

# Counts the WebSockets the page opens (a reconnect opens one synchronously in its timer).
COUNT_SOCKETS = """window.socketsOpened = 0;
window.WebSocket = class extends window.WebSocket {
  constructor(...args) { super(...args); window.socketsOpened++; } };"""
ERRORS = """() => { window.lvtErrors = [];
  document.addEventListener('lvt:error', (e) => window.lvtErrors.push(e.detail.code)); }"""


class Bindings:
    """Logs every action it runs as ``name {data as sorted JSON}``."""

    def __init__(self) -> None:
        self.count = 0
        self.pings = 0
        self.log: list[str] = []

    def _record(self, ctx: ActionContext) -> None:
        self.log.append(f"{ctx.action} {json.dumps(ctx.data, sort_keys=True)}")

    def ping(self) -> None:
        self.pings += 1

    def bump(self, ctx: ActionContext) -> None:
        self.count += 1
        self._record(ctx)

    def throttled(self, ctx: ActionContext) -> None:
        self._record(ctx)

    # the other bindings' actions only log too
    picked = titled = flagged = filtered = typed = keyed = entered = went = noted = throttled


class Clock:
    """The application's clock, moved forward to age pages past ``Limits.page_ttl``."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    clock = Clock()
    live = Application(secret="browser-bindings", limits=Limits(page_ttl=60), clock=clock)
    live.add_template("bindings", TEMPLATE)

    async def index(request: Request) -> Response:
        page = live.new_page("bindings", Bindings())
        return page.serve_http(request, {"manual": request.url.path == "/manual"})

    async def expire(request: Request) -> PlainTextResponse:
        # Drop the page of this token the way an idle page goes: no connection, then its TTL.
        page = await live.load_page(request.query_params["token"])
        for _ in range(500):
            if not page.connections:
                break
            await asyncio.sleep(0.01)
        clock.offset += live.limits.page_ttl + 1
        return PlainTextResponse(str(page.id in live.expire_pages()))

    app = Starlette(routes=[Route("/", index), Route("/manual", index),
                            Route("/expire", expire, methods=["POST"]), *live.routes("/ws")])
    yield from serve(app)


def log(page: Any) -> list[str]:
    return page.locator("#log li").all_text_contents()


def barrier(page: Any) -> None:
    """Return once the server has run every action the client sent before this call."""
    pings = int(page.text_content("#pings") or "0")
    page.evaluate("window.liveTemplate.send('ping')")
    expect(page.locator("#pings")).to_have_text(str(pings + 1))


def fire_inputs(page: Any, values: list[str]) -> None:
    """Type each value into #throttled with an input event, all within one task."""
    page.evaluate("""(values) => { const el = document.getElementById('throttled');
        for (const v of values) { el.value = v; el.dispatchEvent(new Event('input', { bubbles: true })); } }""",
                  values)


def test_throttle_sends_the_first_event_now_and_the_last_at_the_window_end(
        page: Any, server: LiveServer) -> None:
    page.clock.install()
    open_live(page, server.url)
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)  # timers fire only when told below
    fire_inputs(page, [f"a{i}" for i in range(1, 21)])
    expect(page.locator("#log li")).to_have_count(1)
    barrier(page)
    assert log(page) == ['throttled {"t": "a1"}']  # the first at once, the rest held
    page.clock.run_for(999)
    barrier(page)
    assert len(log(page)) == 1  # still inside the 1000 ms window
    page.clock.run_for(1)
    expect(page.locator("#log li")).to_have_count(2)
    assert log(page)[1] == 'throttled {"t": "a20"}'  # the window's last event, at its end
    # Events right after the trailing send wait for the next window: at most one per 1000 ms.
    fire_inputs(page, ["b1", "b2", "b3"])
    page.clock.run_for(999)
    barrier(page)
    assert len(log(page)) == 2
    page.clock.run_for(1)
    expect(page.locator("#log li")).to_have_count(3)
    # After a quiet window the next event goes at once again.
    page.clock.run_for(5000)
    fire_inputs(page, ["c1"])
    expect(page.locator("#log li")).to_have_count(4)
    barrier(page)
    assert log(page)[2:] == ['throttled {"t": "b3"}', 'throttled {"t": "c1"}']


def test_change_sends_the_field_or_the_whole_form(page: Any, server: LiveServer) -> None:
    open_live(page, server.url)
    page.select_option("#color", "green")
    page.locator("#title").press_sequentially("abc", delay=5)
    barrier(page)
    assert log(page) == ['picked {"color": "green"}']  # typing fires no change event
    page.press("#title", "Tab")  # leaving the field commits it
    page.check("#flag")
    page.uncheck("#flag")
    page.select_option("#filters select", "old")
    page.uncheck("#filters input[name=open]")
    barrier(page)
    assert log(page) == [
        'picked {"color": "green"}',
        'titled {"title": "abc"}',
        'flagged {"value": "on"}',  # a field with no name sends "value"
        'flagged {"value": "off"}',
        'filtered {"open": "on", "q": "x", "sort": "old"}',
        'filtered {"open": "off", "q": "x", "sort": "old"}',
    ]
    # Only a submit resets its form: a change form keeps what the user picked.
    expect(page.locator("#filters select")).to_have_value("old")
    expect(page.locator("#filters input[name=open]")).not_to_be_checked()


def test_input_on_a_form_sends_the_whole_form_per_input(page: Any, server: LiveServer) -> None:
    open_live(page, server.url)
    page.locator("#typing input[name=a]").press_sequentially("hi", delay=5)
    barrier(page)
    assert log(page) == ['typed {"a": "h", "b": "B"}', 'typed {"a": "hi", "b": "B"}']
    expect(page.locator("#typing input[name=a]")).to_have_value("hi")  # not reset by a reply


def test_keyup_sends_the_key_and_the_value_after_it(page: Any, server: LiveServer) -> None:
    open_live(page, server.url)
    page.locator("#keys").press_sequentially("ab", delay=5)
    page.locator("#enter").press_sequentially("go", delay=5)
    page.press("#enter", "Enter")
    barrier(page)
    assert log(page) == [
        'keyed {"k": "a", "key": "a"}',  # keyup: the value already holds the key's character
        'keyed {"k": "ab", "key": "b"}',
        'entered {"e": "go", "key": "Enter"}',  # lvt-key: only Enter fires
    ]


def test_click_on_a_link_stays_and_sends_dashed_values(page: Any, server: LiveServer) -> None:
    open_live(page, server.url)
    page.evaluate("window.stayed = true")
    page.click("#link")
    expect(page.locator("#log li")).to_have_text(['went {"user_id": "7", "x": "y"}'])
    assert page.url == server.url + "/"
    assert page.evaluate("window.stayed") is True


def test_ignored_subtree_is_not_patched_but_its_bindings_work(page: Any,
                                                              server: LiveServer) -> None:
    open_live(page, server.url)
    page.evaluate("document.getElementById('ignored').insertAdjacentHTML('beforeend',"
                  " '<i id=\"widget\">mine</i>')")  # what a third-party widget might add
    page.click("#bump-inside")
    page.click("#bump-inside")
    expect(page.locator("#count")).to_have_text("2")
    expect(page.locator("#ignored-count")).to_have_text("0")  # rendered as 2, left as it was
    expect(page.locator("#widget")).to_have_text("mine")
    assert log(page) == ["bump {}", "bump {}"]


def test_no_reset_keeps_the_fields_after_a_successful_submit(page: Any,
                                                             server: LiveServer) -> None:
    open_live(page, server.url)
    page.fill("#keep input", "kept")
    page.fill("#clear input", "cleared")
    page.click("#keep button")
    page.click("#clear button")
    expect(page.locator("#log li")).to_have_text(['noted {"text": "kept"}',
                                                  'noted {"text": "cleared"}'])
    expect(page.locator("#clear input")).to_have_value("")  # the usual reset on success
    expect(page.locator("#clear")).not_to_have_class("lvt-loading")
    expect(page.locator("#keep")).not_to_have_class("lvt-loading")
    expect(page.locator("#keep input")).to_have_value("kept")


def lose_the_page(page: Any) -> None:
    """Drop the connection, let the server forget the page, then let the client reconnect."""
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)  # hold the reconnect timer
    page.evaluate("window.liveTemplate.ws.close()")
    page.wait_for_function("() => !window.liveTemplate.ws")
    token = page.get_attribute('meta[name="livetemplate-token"]', "content")
    gone = page.evaluate("(t) => fetch('/expire?token=' + encodeURIComponent(t),"
                         " {method: 'POST'}).then((r) => r.text())", token)
    assert gone == "True"
    page.clock.run_for(10_000)  # maxReconnectDelay: the reconnect has been tried by now


def test_lost_shared_page_reloads_the_document(page: Any, server: LiveServer) -> None:
    page.clock.install()
    open_live(page, server.url)
    page.click("#bump-inside")
    expect(page.locator("#count")).to_have_text("1")
    token = page.get_attribute('meta[name="livetemplate-token"]', "content")
    page.evaluate("window.stayed = true")
    with page.expect_event("load"):
        lose_the_page(page)  # page_not_found, then location.reload()
    page.clock.resume()
    page.wait_for_function("() => !window.stayed && window.liveTemplate && window.liveTemplate.tree")
    assert page.get_attribute('meta[name="livetemplate-token"]', "content") != token
    expect(page.locator("#count")).to_have_text("0")  # the HTTP route made a new page
    page.click("#bump-inside")
    expect(page.locator("#count")).to_have_text("1")


def test_lost_shared_page_without_reload_stays_disconnected(page: Any,
                                                            server: LiveServer) -> None:
    page.add_init_script(COUNT_SOCKETS)
    page.clock.install()
    open_live(page, server.url + "/manual")  # a client made with reloadOnLostPage: false
    page.evaluate(ERRORS)
    page.evaluate("window.stayed = true")
    lose_the_page(page)
    page.wait_for_function("() => window.lvtErrors.includes('page_not_found')")
    opened = page.evaluate("window.socketsOpened")
    page.clock.run_for(60_000)  # any reconnect timer would have fired
    assert page.evaluate("window.socketsOpened") == opened
    assert page.evaluate("[window.stayed, window.liveTemplate.ws]") == [True, None]
    # Actions now go by HTTP POST, and fail the same way: the page can tell the user.
    page.click("#bump-inside")
    page.wait_for_function("() => window.lvtErrors.filter((c) => c === 'page_not_found').length === 2")
    expect(page.locator("#count")).to_have_text("0")


NO_WEBSOCKET = """window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: '' }), 0); }
  send() {} close() {} };"""


def expire_over_http(page: Any) -> None:
    token = page.get_attribute('meta[name="livetemplate-token"]', "content")
    gone = page.evaluate("(t) => fetch('/expire?token=' + encodeURIComponent(t),"
                         " {method: 'POST'}).then((r) => r.text())", token)
    assert gone == "True"


def test_lost_shared_page_over_http_reloads_once_then_reports(context: Any,
                                                              server: LiveServer) -> None:
    page = context.new_page()
    page.add_init_script(NO_WEBSOCKET)  # every action goes by HTTP POST
    page.goto(server.url)
    page.wait_for_function("() => !!window.liveTemplate")
    page.click("#bump-inside")
    expect(page.locator("#count")).to_have_text("1")
    token = page.get_attribute('meta[name="livetemplate-token"]', "content")
    expire_over_http(page)
    page.evaluate("window.stayed = true")
    with page.expect_event("load"):
        page.click("#bump-inside")  # page_not_found in the POST reply, then location.reload()
    page.wait_for_function("() => !window.stayed && !!window.liveTemplate")
    assert page.get_attribute('meta[name="livetemplate-token"]', "content") != token
    page.click("#bump-inside")
    expect(page.locator("#count")).to_have_text("1")  # a new page, live again
    # Lost again right after the reload: no second reload (it could loop), an error instead.
    expire_over_http(page)
    page.evaluate(ERRORS)
    page.evaluate("window.stayed = true")
    page.click("#bump-inside")
    page.wait_for_function("() => window.lvtErrors.includes('page_lost_again')")
    assert page.evaluate("window.stayed") is True
    page.close()
