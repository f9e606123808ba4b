"""A test app for the browser suite: forms, debounce, key filters, a long list, rows being edited.

``GET /?rows=N`` makes a new page (Pattern 2) with ``N`` toggleable rows.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from livetemplate import ActionContext, Application

TEMPLATE = """<!doctype html>
<html><head><title>{{ title }}</title></head>
<body>
<form id="form" lvt-submit="save">
  <input name="name" value="">
  <input type="checkbox" name="agree">
  <input type="checkbox" name="tags" value="a"><input type="checkbox" name="tags" value="b">
  <input type="checkbox" name="tags" value="c">
  <select name="size"><option>s</option><option selected>m</option><option>l</option></select>
  <select name="colors" multiple><option>red</option><option>green</option><option>blue</option></select>
  <input type="radio" name="plan" value="free" checked><input type="radio" name="plan" value="pro">
  <textarea name="bio"></textarea>
  <button type="submit" name="via" value="save-button">Save</button>
</form>
<p id="got">{{ got }}</p>
<input id="search" name="q" lvt-input="search" lvt-debounce="300">
<p><span id="searches">{{ searches }}</span> <span id="q">{{ q }}</span></p>
<input id="cmd" name="cmd" lvt-keydown="command" lvt-key="Enter,Escape" lvt-value-source="cmd-line">
<p><span id="commands">{{ commands }}</span> <span id="last">{{ last }}</span></p>
<ul id="edits">
{% for e in edits %}<li data-key="{{ e.id }}"><input id="edit-{{ e.id }}" value="{{ e.text }}" lvt-input="edit" lvt-value-id="{{ e.id }}"> <span class="echo">{{ e.text }}</span> <span class="n">{{ e.n }}</span></li>
{% endfor %}</ul>
<ul id="todos">{% for t in todos %}<li id="todo-{{ t.id }}" class="{{ 'done' if t.done else 'open' }}"><button lvt-click="flip" lvt-value-id="{{ t.id }}">{{ t.title }}</button></li>{% endfor %}</ul>
<button id="bump" lvt-click="bump">bump</button>
<table id="grid">{% for row in grid %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>
<ul id="rows">
{% for r in rows %}<li data-key="{{ r.id }}" class="{{ 'on' if r.on else 'off' }}"><button lvt-click="toggle" lvt-value-id="{{ r.id }}">{{ r.id }}</button> <span>{{ r.label }}</span></li>
{% endfor %}</ul>
</body></html>
"""


@dataclass
class Todo:
    id: int
    title: str
    done: bool = False


# Cells bump() changes: on three rows, at both ends and in the middle of a row.
BUMPED = ((0, 0), (4, 5), (9, 9))


class Playground:
    def __init__(self, rows: int) -> None:
        # rows as users write them: dataclasses keyed by an id with a prefix, and a grid of
        # plain numbers with no key at all
        self.todos = [Todo(i, f"todo {i}") for i in range(1, 201)]
        self.grid = [[10 * r + c for c in range(10)] for r in range(10)]
        self.title = "Playground"
        self.got = ""
        self.q = ""
        self.searches = 0
        self.commands = 0
        self.last = ""
        self.rows = [{"id": i, "on": False, "label": f"row {i}"} for i in range(1, rows + 1)]
        self.edits = [{"id": i, "text": "", "n": 0} for i in (1, 2)]

    def save(self, ctx: ActionContext) -> None:
        self.got = json.dumps(ctx.data, sort_keys=True)

    def search(self, ctx: ActionContext) -> None:
        self.q = ctx.get_str("q")
        self.searches += 1

    def command(self, ctx: ActionContext) -> None:
        self.commands += 1
        self.last = f"{ctx.get_str('key')}:{ctx.get_str('cmd')}:{ctx.get_str('source')}"

    def flip(self, ctx: ActionContext) -> None:
        todo = self.todos[ctx.get_int("id") - 1]
        todo.done = not todo.done

    def bump(self) -> None:
        for r, c in BUMPED:
            self.grid[r][c] += 1000

    def toggle(self, ctx: ActionContext) -> None:
        row = self.rows[ctx.get_int("id") - 1]
        row["on"] = not row["on"]

    async def edit(self, ctx: ActionContext) -> None:
        await asyncio.sleep(0.02)  # replies lag behind the typing: they carry older values
        entry = self.edits[ctx.get_int("id") - 1]
        entry["text"] = ctx.get_str("value")
        entry["n"] += 1


live = Application()
live.add_template("playground", TEMPLATE)


async def index(request: Request) -> Response:
    rows = int(request.query_params.get("rows", "3"))
    return live.new_page("playground", Playground(rows)).serve_http(request)


app = Starlette(routes=[Route("/", index), *live.routes("/ws")])
