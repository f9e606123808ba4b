"""A test app for hooks, client-side commands, focus/window events and connection state.

``GET /`` makes a page over HTTP (Pattern 2); ``GET /p1`` renders the template and each WebSocket
to ``/ws`` without a token gets a new page (Pattern 1). ``POST /release`` lets ``slow`` finish.
Also served by a separate uvicorn process (``uvicorn tests.browser.interactive:app``) for the
tests that stop and restart the server.
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocket

from livetemplate import ActionContext, Application, Page

HOOKS = """<script>
window.hookLog = [];
const note = (hook, what) => window.hookLog.push(what + ' ' + hook.el.id);
window.LiveTemplateHooks = {
  Chart: {
    mounted() {
      note(this, 'mounted');
      this.el.querySelector('.canvas').textContent = 'drawn';
      this.handleEvent('points', (p) => { note(this, 'points ' + JSON.stringify(p)); });
    },
    updated() { note(this, 'updated'); },
    destroyed() { note(this, 'destroyed'); },
    disconnected() { note(this, 'disconnected'); },
    reconnected() { note(this, 'reconnected'); },
  },
  Broken: { mounted() { throw new Error('broken hook'); } },
  Pusher: {
    mounted() { this.el.addEventListener('click', () => this.pushEvent('bump', { by: '5' })); },
  },
};
</script>"""

TEMPLATE = """<!doctype html>
<html><head><title>Interactive</title>""" + HOOKS + """</head>
<body>
<p><span id="count">{{ count }}</span> <span id="other">{{ other }}</span></p>
<button id="inc" lvt-click="inc">+</button> <button id="touch" lvt-click="touch">touch</button>
{% macro chart_and_note(n) %}<input id="note" name="note"><div id="chart" lvt-hook="Chart" data-n="{{ n }}"><div class="canvas" lvt-ignore></div><span class="label">{{ n }}</span></div>{% endmacro %}
{% if not chart %}{% elif wrapped %}<section class="wrap"><p>wrapped</p>{{ chart_and_note(n) }}</section>{% else %}{{ chart_and_note(n) }}{% endif %}
<button id="chart-inc" lvt-click="chart_inc">chart+</button>
<button id="chart-toggle" lvt-click="chart_toggle">chart on/off</button>
<i id="broken" lvt-hook="Broken"></i><i id="unknown" lvt-hook="Nope"></i>
<button id="pusher" lvt-hook="Pusher">push</button> <button id="ping" lvt-click="ping">ping</button>
<button id="toggle-menu" lvt-click="toggle(#menu); toggle_class(open, #toggle-menu)">menu</button>
<ul id="menu" style="display:none" lvt-click-away="hide(#menu)"><li>{{ count }}</li></ul>
<button id="save" lvt-click="add_class(saving, #status); set_attr(data-state=saving, #status); remove_attr(title, #status); inc">save</button>
<p id="status" class="idle" title="t">{{ count }}</p>
<button id="focus-name" lvt-click="focus(#name)">focus</button>
<input id="name" name="name" lvt-focus="focused" lvt-blur="blurred" lvt-value-via="name">
<div id="panel" style="display:none" lvt-window-keydown="show(#panel)" lvt-key="k">panel</div>
<div id="keys" lvt-window-keyup="key_pressed" lvt-key="Escape,ArrowUp"></div>
<button id="dispatch" lvt-click="dispatch(click, #inc)">dispatch</button>
<button id="bad" lvt-click="explode(#menu); hide(#menu">bad</button>
<button id="slow" lvt-click="slow" lvt-disable-with="Working">Slow {{ slow_runs }}</button>
<form id="todo" lvt-submit="add"><input id="title" name="title"><button id="add" lvt-disable-with="Adding">Add</button></form>
<ul id="todos">{% for t in todos %}<li>{{ t }}</li>{% endfor %}</ul>
<form id="draft" lvt-change="draft"><input id="draft-text" name="text" value=""><input type="checkbox" name="keep"></form>
<p id="draft-echo">{{ draft }}</p>
<ol id="log">{% for entry in log %}<li>{{ entry }}</li>{% endfor %}</ol>
</body></html>
"""

MODELS: list[Interactive] = []


class Interactive:
    def __init__(self) -> None:
        self.count = 0
        self.other = 0
        self.chart = True
        self.wrapped = False
        self.n = 0
        self.slow_runs = 0
        self.todos: list[str] = []
        self.draft = ""
        self.log: list[str] = []
        self._gate = asyncio.Event()
        MODELS.append(self)

    def inc(self) -> None:
        self.count += 1

    def touch(self) -> None:
        self.other += 1

    def chart_inc(self, ctx: ActionContext) -> None:
        self.n += 1
        ctx.push_event("points", {"n": self.n})

    def chart_toggle(self) -> None:
        self.chart = not self.chart

    def wrap(self) -> None:
        self.wrapped = not self.wrapped

    def bump(self, ctx: ActionContext) -> None:
        self.count += ctx.get_int("by")

    def ping(self, ctx: ActionContext) -> None:
        ctx.push_event("points", {"ping": True})

    def focused(self, ctx: ActionContext) -> None:
        self.log.append(f"focus {ctx.get('name')} {ctx.get('via')}")

    def blurred(self, ctx: ActionContext) -> None:
        self.log.append(f"blur {ctx.get('name')}")

    def key_pressed(self, ctx: ActionContext) -> None:
        self.log.append(f"key {ctx.get('key')}")

    async def slow(self) -> None:
        await self._gate.wait()
        self._gate.clear()
        self.slow_runs += 1

    def add(self, ctx: ActionContext) -> None:
        self.todos.append(ctx.get_str("title"))

    def draft(self, ctx: ActionContext) -> None:
        self.draft = f"{ctx.get_str('text')}|{ctx.get('keep')}"


live = Application()
live.add_template("interactive", TEMPLATE)


async def index(request: Request) -> Response:
    return live.new_page("interactive", Interactive()).serve_http(request)


async def pattern1(request: Request) -> Response:
    return HTMLResponse(live.render("interactive", {
        k: v for k, v in vars(Interactive()).items() if not k.startswith("_")}))


def new_page(websocket: WebSocket) -> Page:
    return live.new_page("interactive", Interactive())


async def release(request: Request) -> Response:
    for model in MODELS:
        model._gate.set()
    return PlainTextResponse("ok")


async def push(request: Request) -> Response:
    """``page.push_event`` outside any action, to the page of ``?token=``."""
    live.page_for_token(request.query_params["token"]).push_event("points", {"pushed": True})
    return PlainTextResponse("ok")


async def touch(request: Request) -> Response:
    """A change made outside any action (``page.update``), to the page of ``?token=``."""
    page = live.page_for_token(request.query_params["token"])
    page.model.other += 1
    page.update()
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/", index), Route("/p1", pattern1),
                        Route("/release", release, methods=["POST"]),
                        Route("/push", push, methods=["POST"]),
                        Route("/touch", touch, methods=["POST"]),
                        *live.routes("/ws", new_page=new_page)])
