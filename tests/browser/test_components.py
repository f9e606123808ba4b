"""Components in Chromium: two counters on one page, each with its own state and actions
(``lvt-target``), updated independently; a row editor among many keeps the others untouched."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livetemplate import ActionContext, Application, Component
from tests.browser.conftest import LiveServer, open_live

PAGE = """<!doctype html><html><head><title>components</title></head><body>
<h1 id="title">{{ title }}</h1>
<div id="counters">{% for c in counters %}{{ component(c) }}{% endfor %}</div>
<button id="rename" lvt-click="rename">rename</button>
<ul id="rows">{% for r in rows %}{{ component(r) }}{% endfor %}</ul>
</body></html>"""
COUNTER = """<section id="{{ name }}" lvt-target="{{ myself }}"><b class="n">{{ n }}</b>
<button class="inc" lvt-click="inc">+</button><button class="dec" lvt-click="dec">-</button></section>"""
ROW = """<li id="row-{{ item_id }}" lvt-target="{{ myself }}">{% if editing %}<form lvt-submit="save">
<input name="title" value="{{ title }}"><button>save</button></form>{% else %}<span>{{ title }}</span>
<button class="edit" lvt-click="edit">edit</button>{% endif %}</li>"""


class Counter(Component):
    template = "counter"

    def __init__(self, name: str) -> None:
        self.name, self.n = name, 0

    def inc(self) -> None:
        self.n += 1

    def dec(self) -> None:
        self.n -= 1


class Row(Component):
    template = "row"

    def __init__(self, i: int) -> None:
        self.item_id, self.title, self.editing = i, f"row {i}", False

    def edit(self) -> None:
        self.editing = True

    def save(self, ctx: ActionContext) -> None:
        self.title, self.editing = ctx.get_str("title"), False


class Board:
    def __init__(self) -> None:
        self.title = "Board"
        self.counters = [Counter("first"), Counter("second")]
        self.rows = [Row(i) for i in range(100)]

    def rename(self) -> None:
        self.title = "Renamed"


def board_app() -> Starlette:
    live = Application()
    live.add_template("board", PAGE)
    live.add_template("counter", COUNTER)
    live.add_template("row", ROW)

    async def index(request: Request) -> Response:
        return live.new_page("board", Board()).serve_http(request)

    return Starlette(routes=[Route("/", index), *live.routes("/ws")])


def test_two_components_on_one_page_update_independently(page: Any) -> None:
    server = LiveServer(board_app()).start()
    try:
        open_live(page, server.url)
        page.evaluate("""() => { window.sent = [];
            const ws = window.liveTemplate.ws, send = ws.send.bind(ws);
            ws.send = (t) => { window.sent.push(JSON.parse(t)); send(t); }; }""")
        page.click("#first .inc")
        expect(page.locator("#first .n")).to_have_text("1")
        expect(page.locator("#second .n")).to_have_text("0")
        page.evaluate("window.secondEl = document.querySelector('#second')")
        page.click("#second .inc")
        page.click("#second .inc")
        page.click("#second .dec")
        page.click("#second .inc")
        expect(page.locator("#second .n")).to_have_text("2")
        expect(page.locator("#first .n")).to_have_text("1")
        sent = page.evaluate("window.sent")
        first = page.get_attribute("#first", "lvt-target")
        second = page.get_attribute("#second", "lvt-target")
        assert first and second and first != second
        assert [(m["action"], m.get("target")) for m in sent] == [
            ("inc", first), ("inc", second), ("inc", second), ("dec", second), ("inc", second)]
        # a page action has no target and leaves the components as they are
        page.click("#rename")
        expect(page.locator("#title")).to_have_text("Renamed")
        expect(page.locator("#first .n")).to_have_text("1")
        expect(page.locator("#second .n")).to_have_text("2")
        assert "target" not in page.evaluate("window.sent")[-1]
        assert page.evaluate("window.secondEl === document.querySelector('#second')")
    finally:
        server.stop()


def test_a_row_editor_among_100_touches_its_row_only(page: Any) -> None:
    server = LiveServer(board_app()).start()
    try:
        open_live(page, server.url)
        page.evaluate("""() => { window.touched = new Set();
            new MutationObserver((rs) => rs.forEach((r) => {
              const row = (r.target.nodeType === 1 ? r.target : r.target.parentElement).closest('li');
              if (row) window.touched.add(row.id);
            })).observe(document.getElementById('rows'),
              {subtree: true, childList: true, attributes: true, characterData: true}); }""")
        page.click("#row-42 .edit")
        expect(page.locator("#row-42 input")).to_have_value("row 42")
        page.fill("#row-42 input", "forty-two")
        page.press("#row-42 input", "Enter")
        expect(page.locator("#row-42 span")).to_have_text("forty-two")
        assert page.evaluate("[...window.touched]") == ["row-42"]
        expect(page.locator("#rows li")).to_have_count(100)
        expect(page.locator("#row-41 span")).to_have_text("row 41")
    finally:
        server.stop()
