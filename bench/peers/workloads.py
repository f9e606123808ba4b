"""The pages the peers are measured on: W1–W4 of ``bench.workloads`` and the untidy shapes.

The untidy shapes are the engine report's rows (``bench.workloads``: the same templates and row
types), each template exactly as users write it: rows that are dataclasses, loops with no key
attribute, ids with a prefix (``id="todo-{{ t.id }}"``), a 100×100 list of lists of ints.  Every page is one Jinja2 source; what the other contenders need
is derived from it mechanically and then checked to produce the same HTML (``bench.peers.check``):

- pyview's templates (its vendored "ibis" language) differ only in three constructs, rewritten
  by :func:`to_ibis`;
- the htmx-style contender renders the page from partials (the loop body, the counter) cut out of
  the same source by :func:`cut_partials`, and answers an action with just the changed partials.

An action mutates the data in place, as a handler in user code does, and returns what it touched
(a row index, a list of cells): what a hand-written htmx handler knows when it picks fragments.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench import workloads as base

Data = dict[str, Any]
Touched = Any
# A swap in the htmx-style answer: (how, element start, occurrence, partial name, its context).
# how: "outer" replaces that element, "beforeend" inserts before its closing tag.
Swap = tuple[str, str, int, str, dict[str, Any]]


@dataclass(frozen=True)
class PeerWorkload:
    key: str
    name: str
    template: str  # the Jinja2 source every contender's HTML is checked against
    build: Callable[[int], Data]  # size -> a fresh copy of the starting data
    action: Callable[[Data, random.Random], Touched]
    swaps: Callable[[Data, Touched], list[Swap]]  # what an htmx handler sends back
    # name -> snippet of ``template``, or (snippet, what the page says instead, partial source)
    partials: dict[str, str | tuple[str, str, str]] = field(default_factory=dict)
    size: int = 1000
    # W4: every measured round appends to the same 1,000-message log (a fresh page per round,
    # primed with one action and this undo so it is measured in its steady state).
    undo: Callable[[Data], None] | None = None

    @property
    def label(self) -> str:
        return f"{self.key} {self.name}"


# --- data -------------------------------------------------------------------------------------


def todo_dicts(n: int) -> Data:
    """``bench.workloads.w2_build`` for ``n`` rows (the same rows at n = 1,000)."""
    todos = [
        {"id": i, "done": i % 3 == 0,
         "title": f"Task #{i}: buy milk & <eggs>" if i % 7 == 0 else f"Task #{i}: write docs"}
        for i in range(n)
    ]
    return {"title": "Todos", "todos": todos,
            "remaining": sum(1 for t in todos if not t["done"])}


def todo_objects(n: int) -> Data:
    data = todo_dicts(n)
    data["todos"] = [base.Todo(**t) for t in data["todos"]]
    return data


def grid(n: int) -> Data:
    rng = random.Random(3)
    return {"rows": [[rng.randrange(100_000) for _ in range(100)] for _ in range(n // 100)]}


def log_dicts(n: int) -> Data:
    return {"log": [base.w4_message(i) for i in range(n)]}


def log_objects(n: int) -> Data:
    return {"log": [base.Message(**base.w4_message(i)) for i in range(n)]}


# --- actions ----------------------------------------------------------------------------------


def bump(data: Data, rng: random.Random) -> Touched:
    data["count"] += 1
    return None


def toggle(data: Data, rng: random.Random) -> Touched:
    k = rng.randrange(len(data["todos"]))
    todo = data["todos"][k]
    if isinstance(todo, dict):
        todo["done"] = not todo["done"]
        done = todo["done"]
    else:
        todo.done = not todo.done
        done = todo.done
    data["remaining"] += -1 if done else 1
    return k


def ten_cells(rows: list[list[int]], rng: random.Random) -> Touched:
    """Ten distinct (row, column) positions of the grid."""
    width = len(rows[0])
    return [divmod(pos, width) for pos in rng.sample(range(len(rows) * width), 10)]


def edit_cells(data: Data, rng: random.Random) -> Touched:
    """Ten distinct cells get a new value in place (W3's action)."""
    rows = data["rows"]
    cells = ten_cells(rows, rng)
    for r, c in cells:
        rows[r][c] = (rows[r][c] + 1 + rng.randrange(99_999)) % 100_000
    return cells


def bump_cells(data: Data, rng: random.Random) -> Touched:
    """Ten distinct cells ``+= 1`` in place (W3-plain's action)."""
    rows = data["rows"]
    cells = ten_cells(rows, rng)
    for r, c in cells:
        rows[r][c] += 1
    return cells


def append_message(data: Data, rng: random.Random) -> Touched:
    log = data["log"]
    message = base.w4_message(len(log))
    log.append(message if not log or isinstance(log[0], dict) else base.Message(**message))
    return None


def pop_message(data: Data) -> None:
    data["log"].pop()


# --- the htmx-style answers -------------------------------------------------------------------


def count_swaps(data: Data, touched: Touched) -> list[Swap]:
    return [("outer", '<span id="count"', 0, "count", data)]


def row_swaps(data: Data, touched: Touched) -> list[Swap]:
    return [("outer", '<span id="remaining"', 0, "remaining", data),
            ("outer", "<li", touched, "row", {"t": data["todos"][touched]})]


def cell_swaps(data: Data, touched: Touched) -> list[Swap]:
    width = len(data["rows"][0])
    return [("outer", "<td", r * width + c, "cell", {"c": data["rows"][r][c]})
            for r, c in touched]


def table_row_swaps(data: Data, touched: Touched) -> list[Swap]:
    # W3 keys rows and cells by ``loop.index0``; an included template does not see the loop, so
    # the handler re-renders the changed rows whole, passing the row's index as ``i``.
    rows = sorted({r for r, _ in touched})
    return [("outer", "<tr", r, "row", {"row": data["rows"][r], "i": r}) for r in rows]


def message_swaps(data: Data, touched: Touched) -> list[Swap]:
    return [("beforeend", '<ul id="log"', 0, "message", {"m": data["log"][-1]})]


# --- the templates ----------------------------------------------------------------------------

REMAINING = '<span id="remaining">{{ remaining }} left</span>'
W2_PREFIX = base.W2_PREFIX_TEMPLATE
W2_NOKEY = base.W2_NOKEY_TEMPLATE
W3_PLAIN = base.W3_PLAIN_TEMPLATE
W4_PLAIN = base.W4_PLAIN_TEMPLATE


def w2_partials(template: str) -> dict[str, str]:
    row = template[template.index("<li"):template.index("{% endfor %}")]
    return {"remaining": REMAINING, "row": row}


def w4_partials(template: str) -> dict[str, str]:
    return {"message": template[template.index("<li"):template.index("{% endfor %}")]}


def w3_partials(template: str) -> dict[str, str]:
    start = template.index("<td")
    return {"cell": template[start:template.index("</td>") + len("</td>")]}


def w3_row_partials(template: str) -> dict[str, str | tuple[str, str, str]]:
    start = template.index("<tr")
    row = template[start:template.index("</tr>") + len("</tr>")]
    include = '{% with i = loop.index0 %}{% include "row" %}{% endwith %}'
    return {"row": (row, include, row.replace("{{ loop.index0 }}", "{{ i }}", 1))}


PEER_WORKLOADS: tuple[PeerWorkload, ...] = (
    PeerWorkload("W1", "counter", base.W1_TEMPLATE, lambda n: base.w1_build(), bump, count_swaps,
                 {"count": '<span id="count">{{ count }}</span>'}, size=1),
    PeerWorkload("W2", "todo-1k", base.W2_TEMPLATE, todo_dicts, toggle, row_swaps,
                 w2_partials(base.W2_TEMPLATE)),
    PeerWorkload("W3", "table-10k keyed by position", base.W3_TEMPLATE, grid, edit_cells,
                 table_row_swaps, w3_row_partials(base.W3_TEMPLATE), size=10_000),
    PeerWorkload("W4", "append", base.W4_TEMPLATE, log_dicts, append_message, message_swaps,
                 w4_partials(base.W4_TEMPLATE), undo=pop_message),
    PeerWorkload("W2-obj", "dataclass rows", base.W2_TEMPLATE, todo_objects, toggle, row_swaps,
                 w2_partials(base.W2_TEMPLATE)),
    PeerWorkload("W2-prefix", 'id="todo-{{ t.id }}"', W2_PREFIX, todo_dicts, toggle, row_swaps,
                 w2_partials(W2_PREFIX)),
    PeerWorkload("W2-nokey", "dataclass rows, no key", W2_NOKEY, todo_objects, toggle,
                 row_swaps, w2_partials(W2_NOKEY)),
    PeerWorkload("W3-plain", "100×100 ints, no keys", W3_PLAIN, grid, bump_cells, cell_swaps,
                 w3_partials(W3_PLAIN), size=10_000),
    PeerWorkload("W4-plain", "dataclass log, no keys", W4_PLAIN, log_objects, append_message,
                 message_swaps, w4_partials(W4_PLAIN), undo=pop_message),
)

# Cost against page size: the W2 page (dict rows, as W2) from 100 to 10,000 rows.
SCALING_WORKLOAD = "W2"
SCALING_SIZES = (100, 300, 1000, 3000, 10_000)


def get(key: str) -> PeerWorkload:
    for wl in PEER_WORKLOADS:
        if wl.key.lower() == key.lower():
            return wl
    raise KeyError(key)


# --- derived sources --------------------------------------------------------------------------

# The only three constructs of these pages that pyview's ibis templates spell differently.
IBIS_REWRITES = (
    ("{{ 'done' if t.done else 'open' }}", "{% if t.done %}done{% else %}open{% endif %}"),
    ("{{ ' checked' if t.done }}", "{% if t.done %} checked{% endif %}"),
    ("{{ loop.index0 }}", "{{ loop.index }}"),  # ibis counts loop.index from 0
)


def to_ibis(template: str) -> str:
    for jinja, ibis in IBIS_REWRITES:
        template = template.replace(jinja, ibis)
    return template


def cut_partials(wl: PeerWorkload) -> dict[str, str]:
    """{name: source} for the htmx-style app: the page with each partial included, the partials.

    Loop bodies stay inside their loop (``{% include %}`` sees the loop variables), so the page
    renders exactly as the single-file template does; ``bench.peers.check`` verifies that.
    """
    page = wl.template
    sources = {}
    for name, spec in wl.partials.items():
        snippet, include, source = (
            spec if isinstance(spec, tuple) else (spec, '{% include "' + name + '" %}', spec))
        if snippet not in page:
            raise ValueError(f"{wl.label}: partial {name!r} is not a snippet of the template")
        page = page.replace(snippet, include, 1)
        sources[name] = source
    return {"page": page, **sources}
