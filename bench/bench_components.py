"""A page of row editors, each a component: the cost of an action on one of them.

The page is written as a user writes it (``docs/api.md``, Components): a table whose rows are
``RowEditor`` components (``{{ component(r) }}``), each with its own template and an ``edit``
action addressed to it (``lvt-target``), run through ``Page.run_action`` of a live page with one
connection.  Beside it, in the same run: the same page's own action editing one row (no
component: the page is updated as a whole, its change tracking finding the row), and Jinja2
re-rendering the page's whole HTML (what a re-render-everything framework does per action).

Run: ``.venv/bin/python -m bench.bench_components [--rows 1000] [--rounds 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import jinja2

from bench.sink import Sink
from livetemplate import Application, Component
from lt_engine.components import cid_of, render_component

PAGE = '<h1>{{ title }}</h1><ul>{% for r in rows %}{{ component(r) }}{% endfor %}</ul>'
ROW = ('<li id="row-{{ item.id }}" lvt-target="{{ myself }}">{% if editing %}'
       '<input name="title" value="{{ item.title }}">{% else %}{{ item.title }}'
       ' <button lvt-click="edit">edit</button>{% endif %}</li>')
SECRET = "bench-components-secret-0123456789abcdef"


class RowEditor(Component):
    template = "row"

    def __init__(self, i: int) -> None:
        self.item = {"id": i, "title": f"row {i} <b>"}
        self.editing = False

    def edit(self) -> None:
        self.editing = not self.editing


class Table:
    def __init__(self, rows: int) -> None:
        self.title = "Rows"
        self.rows = [RowEditor(i) for i in range(rows)]

    def edit_row(self, ctx: Any) -> None:  # the same change, as an action of the page
        row = self.rows[ctx.get_int("i")]
        row.editing = not row.editing



def live_page(rows: int) -> tuple[Any, Sink]:
    app = Application(secret=SECRET)
    app.add_template("table", PAGE)
    app.add_template("row", ROW)
    page = app.new_page("table", Table(rows))
    sink = Sink()
    page.attach(sink)
    return page, sink


async def per_action(rows: int, rounds: int, component: bool,
                     same: bool = False) -> tuple[float, float]:
    """(seconds, bytes) per action editing one row: another row each time, or (``same``) the
    same row again and again."""
    page, sink = live_page(rows)
    targets = [page.model.rows[0 if same else (i * 7919) % rows] for i in range(rounds)]
    start_bytes = sink.sent
    start = time.perf_counter()
    for i, row in enumerate(targets):
        if component:
            await page.run_action("edit", {}, sink, cid_of(row))
        else:
            await page.run_action("edit_row", {"i": 0 if same else (i * 7919) % rows}, sink)
    return (time.perf_counter() - start) / rounds, (sink.sent - start_bytes) / rounds


def jinja_time(rows: int, rounds: int) -> float:
    env = jinja2.Environment(autoescape=True, loader=jinja2.DictLoader({"table": PAGE, "row": ROW}))
    env.globals["component"] = render_component
    tpl = env.get_template("table")
    data = {"title": "Rows", "rows": [RowEditor(i) for i in range(rows)]}
    start = time.perf_counter()
    for _ in range(rounds):
        tpl.render(data)
    return (time.perf_counter() - start) / rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000, help="row components (1,000)")
    parser.add_argument("--rounds", type=int, default=300, help="actions timed (300)")
    args = parser.parse_args(argv)
    rows, rounds = args.rows, args.rounds
    comp, comp_bytes = asyncio.run(per_action(rows, rounds, component=True))
    again, again_bytes = asyncio.run(per_action(rows, rounds, component=True, same=True))
    page, page_bytes = asyncio.run(per_action(rows, rounds, component=False))
    jinja = jinja_time(rows, max(3, rounds // 30))
    print(f"one edit on a page of {rows:,} row components (per action, {rounds} actions;"
          " another row each time unless said):")
    print(f"  component action (lvt-target)  {comp * 1e6:10.1f} us  {comp_bytes:7.0f} B"
          f"  {jinja / comp:8.1f}x faster than jinja2")
    print(f"  the same component again       {again * 1e6:10.1f} us  {again_bytes:7.0f} B"
          f"  {jinja / again:8.1f}x faster than jinja2")
    print(f"  page action, same change       {page * 1e6:10.1f} us  {page_bytes:7.0f} B"
          f"  {jinja / page:8.1f}x faster than jinja2")
    print(f"  jinja2 re-render of the page   {jinja * 1e6:10.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
