"""The benchmark workloads, defined once and shared by the pytest-benchmark suite and the report.

A workload is a page (a Jinja2 template source plus a builder of its data) and one user action.
The action mutates the data **in place**, the way an action handler in user code would, and
returns the set of top-level names it changed (what ``Mounted.update(data, changed=…)`` takes).

Actions take a ``random.Random`` so that what they touch varies between rounds (row 17 now, row
803 next) while staying reproducible from a seed.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lt_engine import track

Data = dict[str, Any]
Action = Callable[[Data, random.Random], set[str]]


@dataclass(frozen=True)
class Workload:
    key: str  # short id used in tables and test ids: "W1"
    name: str  # human name: "counter"
    template: str
    build: Callable[[], Data]  # a fresh copy of the starting data, every call
    action: Action
    # True when every measured round must start from the freshly built state (W4: the measured
    # action is exactly "append one to a log of 1,000", not "append to an ever-growing log").
    reset_each_round: bool = False
    # Reverts one action (in place, returns the changed names).  A freshly mounted page is primed
    # with action + undo, each followed by an update, so a reset round measures a live page in
    # its steady state rather than the one-off lazy set-up of the first update after mount.
    undo: Callable[[Data], set[str]] | None = None
    # Goals (bench.report's targets).  ``goal`` set: the row is a page as users write it, and the
    # speed-up that must reach it is the one without a ``changed=`` hint (the engine finds the
    # change itself); unset: the default targets on the hinted figure.
    goal: float | None = None
    size_goal: float = 1.5

    @property
    def label(self) -> str:
        return f"{self.key} {self.name}"


# --- W1 counter ------------------------------------------------------------------------------

W1_TEMPLATE = (
    '<h1>{{ title }}</h1><span id="count">{{ count }}</span>'
    '<button id="inc" lvt-click="increment">+</button>'
    '<button id="dec" lvt-click="decrement">-</button>'
)


def w1_build() -> Data:
    return {"title": "Counter", "count": 5}


class W1Counter:
    """The W1 page as the web layer's users write it: a data model whose method is the action."""

    def __init__(self) -> None:
        data = w1_build()
        self.title = data["title"]
        self.count = data["count"]

    def increment(self) -> None:
        self.count += 1


def w1_action(data: Data, rng: random.Random) -> set[str]:
    data["count"] += 1
    return {"count"}


# --- W2 todo-1k ------------------------------------------------------------------------------

W2_ROWS = 1000

# Six dynamics per row: key, class, checkbox id, checked, title, delete id.  The header's
# ``remaining`` lives in the data and the action keeps it consistent, as a data model would; a
# template-side ``todos|rejectattr('done')|list|length`` would instead make the header read every
# row, which is a different (and much less common) workload.
W2_TEMPLATE = (
    '<section class="todoapp"><header><h1>{{ title }}</h1>'
    '<span id="remaining">{{ remaining }} left</span></header>'
    '<ul class="todo-list">{% for t in todos %}'
    "<li data-key=\"{{ t.id }}\" class=\"todo {{ 'done' if t.done else 'open' }}\">"
    '<input type="checkbox" lvt-click="toggle" lvt-value-id="{{ t.id }}"'
    "{{ ' checked' if t.done }}>"
    "<span>{{ t.title }}</span>"
    '<button lvt-click="delete" lvt-value-id="{{ t.id }}">x</button></li>'
    "{% endfor %}</ul></section>"
)


def w2_build() -> Data:
    todos = [
        {
            "id": i,
            # Every seventh title needs escaping, so the benchmark pays for autoescape like a
            # real page does (and the correctness check covers it).
            "title": f"Task #{i}: buy milk & <eggs>" if i % 7 == 0 else f"Task #{i}: write docs",
            "done": i % 3 == 0,
        }
        for i in range(W2_ROWS)
    ]
    return {
        "title": "Todos",
        "todos": todos,
        "remaining": sum(1 for t in todos if not t["done"]),
    }


def w2_action(data: Data, rng: random.Random) -> set[str]:
    todo = data["todos"][rng.randrange(len(data["todos"]))]
    todo["done"] = not todo["done"]
    data["remaining"] += -1 if todo["done"] else 1
    return {"todos", "remaining"}


# --- W3 table-10k ----------------------------------------------------------------------------

W3_SIZE = 100
W3_CELLS_PER_ACTION = 10

# Keyed by position (``loop.index0``) on both levels: a grid's rows and cells have no identity
# beyond where they are, and the action changes values in place without moving anything, so
# position keys turn every changed cell into one keyed "u" op and nothing else.
W3_TEMPLATE = (
    "<table>{% for row in rows %}"
    '<tr data-key="{{ loop.index0 }}">{% for c in row %}'
    '<td data-key="{{ loop.index0 }}">{{ c }}</td>'
    "{% endfor %}</tr>{% endfor %}</table>"
)


def w3_build() -> Data:
    rng = random.Random(3)
    return {"rows": [[rng.randrange(100_000) for _ in range(W3_SIZE)] for _ in range(W3_SIZE)]}


def w3_action(data: Data, rng: random.Random) -> set[str]:
    rows = data["rows"]
    for pos in rng.sample(range(W3_SIZE * W3_SIZE), W3_CELLS_PER_ACTION):
        r, c = divmod(pos, W3_SIZE)
        # Always a different value, so every action really changes exactly ten cells.
        rows[r][c] = (rows[r][c] + 1 + rng.randrange(99_999)) % 100_000
    return {"rows"}


# --- W4 append -------------------------------------------------------------------------------

W4_MESSAGES = 1000
W4_USERS = ("alice", "bob", "carol", "dave", "eve", "mallory", "trent")

W4_TEMPLATE = (
    '<ul id="log">{% for m in log %}'
    '<li data-key="{{ m.id }}"><b>{{ m.user }}</b>: {{ m.text }}</li>'
    "{% endfor %}</ul>"
)


def w4_message(i: int) -> dict[str, Any]:
    return {"id": i, "user": W4_USERS[i % len(W4_USERS)], "text": f"message {i} says hi & bye"}


def w4_build() -> Data:
    return {"log": [w4_message(i) for i in range(W4_MESSAGES)]}


def w4_action(data: Data, rng: random.Random) -> set[str]:
    log = data["log"]
    log.append(w4_message(log[-1]["id"] + 1 if log else 0))
    return {"log"}


def w4_undo(data: Data) -> set[str]:
    data["log"].pop()
    return {"log"}


# --- W2t, W4t: the same pages with tracked data ----------------------------------------------
# lt_engine.track() makes the lists report their own changes (docs/api.md, "Tracked data"): the
# update checks the toggled row or the appended message instead of scanning 1,000 rows.  The
# actions are the same code; W4t appends a tracked message so the log stays fully tracked.


def w2t_build() -> Data:
    return track(w2_build())


def w4t_build() -> Data:
    return track(w4_build())


def w4t_action(data: Data, rng: random.Random) -> set[str]:
    log = data["log"]
    log.append(track(w4_message(log[-1]["id"] + 1 if log else 0)))
    return {"log"}


# --- Pages as users write them (issue 11) ----------------------------------------------------
# The rows above are dicts in loops keyed by a ``data-key`` slot, and W3 keys every row and cell
# by position: shapes chosen for the engine.  These rows are the same pages as Python apps
# usually write them: rows are dataclass instances, loops have no key attribute or an id with a
# prefix, a grid is a list of lists of ints.  No ``changed=`` hint is needed (the report's auto
# column); each action mutates the data in place.


@dataclass
class Todo:
    id: int
    title: str
    done: bool


@dataclass
class Message:
    id: int
    user: str
    text: str


def _todos_as(make: Callable[[dict[str, Any]], Any]) -> Callable[[], Data]:
    def build() -> Data:
        data = w2_build()
        data["todos"] = [make(t) for t in data["todos"]]
        return data

    return build


w2obj_build = _todos_as(lambda t: Todo(**t))


def w2obj_action(data: Data, rng: random.Random) -> set[str]:
    todo = data["todos"][rng.randrange(len(data["todos"]))]
    todo.done = not todo.done
    data["remaining"] += -1 if todo.done else 1
    return {"todos", "remaining"}


W2_PREFIX_TEMPLATE = W2_TEMPLATE.replace('data-key="{{ t.id }}"', 'id="todo-{{ t.id }}"')
W2_NOKEY_TEMPLATE = W2_TEMPLATE.replace('data-key="{{ t.id }}" ', "")

W3_PLAIN_TEMPLATE = (
    "<table>{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>"
    "{% endfor %}</table>"
)


def w3plain_action(data: Data, rng: random.Random) -> set[str]:
    rows = data["rows"]
    for pos in rng.sample(range(W3_SIZE * W3_SIZE), W3_CELLS_PER_ACTION):
        r, c = divmod(pos, W3_SIZE)
        rows[r][c] += 1
    return {"rows"}


W4_PLAIN_TEMPLATE = (
    '<ul id="log">{% for m in log %}<li><b>{{ m.user }}</b>: {{ m.text }}</li>{% endfor %}</ul>'
)


def w4plain_build() -> Data:
    return {"log": [Message(**w4_message(i)) for i in range(W4_MESSAGES)]}


def w4plain_action(data: Data, rng: random.Random) -> set[str]:
    log = data["log"]
    log.append(Message(**w4_message(log[-1].id + 1 if log else 0)))
    return {"log"}


def w2objt_build() -> Data:
    return track(w2obj_build())


WORKLOADS: tuple[Workload, ...] = (
    Workload("W1", "counter", W1_TEMPLATE, w1_build, w1_action),
    Workload("W2", "todo-1k", W2_TEMPLATE, w2_build, w2_action),
    # A grid's changed cells cost their place on the wire ([row, [cell, value]]): grids are held
    # to 2.5× the changed values (issue 11), keyed or not.
    Workload("W3", "table-10k", W3_TEMPLATE, w3_build, w3_action, size_goal=2.5),
    Workload("W4", "append", W4_TEMPLATE, w4_build, w4_action, reset_each_round=True, undo=w4_undo),
    Workload("W2t", "todo-1k tracked", W2_TEMPLATE, w2t_build, w2_action),
    Workload("W4t", "append tracked", W4_TEMPLATE, w4t_build, w4t_action, reset_each_round=True,
             undo=w4_undo),
    Workload("W2-obj", "dataclass todos", W2_TEMPLATE, w2obj_build, w2obj_action, goal=40),
    Workload("W2-prefix", 'id="todo-…" todos', W2_PREFIX_TEMPLATE, w2_build, w2_action, goal=40),
    Workload("W2-nokey", "dataclass todos, no key", W2_NOKEY_TEMPLATE, w2obj_build, w2obj_action,
             goal=40),
    Workload("W3-plain", "100x100 ints, no keys", W3_PLAIN_TEMPLATE, w3_build, w3plain_action,
             goal=60, size_goal=2.5),
    Workload("W4-plain", "dataclass log, no keys", W4_PLAIN_TEMPLATE, w4plain_build,
             w4plain_action, reset_each_round=True, undo=w4_undo, goal=40),
    Workload("W2-obj-t", "dataclass todos tracked", W2_TEMPLATE, w2objt_build, w2obj_action,
             goal=200),
)



def get(key: str) -> Workload:
    for workload in WORKLOADS:
        if workload.key.lower() == key.lower() or workload.name == key:
            return workload
    raise KeyError(key)


# --- the "changed values" size baseline ------------------------------------------------------


class _Unchanged:
    """Marker for "no difference here" (``None`` is a legitimate changed value)."""


UNCHANGED = _Unchanged()


def leaf_changes(before: Any, after: Any) -> Any:
    """The changed data leaves between two states, nested by path, or ``UNCHANGED``.

    Dicts and lists are descended (list positions become string keys, as JSON needs); a leaf
    whose value differs, or a position that appeared, carries the whole new value; a position
    that disappeared carries ``None``.  Comparison is type-strict (``1`` vs ``True`` differ).
    E.g. toggling row 17 of W2 gives ``{"todos": {"17": {"done": True}}, "remaining": 499}``.
    """
    # __class__, not type(): a tracked object's copy is an instance of the original class
    if before.__class__ is not after.__class__:
        return after
    if dataclasses.is_dataclass(after) and not isinstance(after, type):
        before, after = _fields(before), _fields(after)
    if isinstance(after, dict):
        out: dict[str, Any] = {}
        for k, v in after.items():
            if k not in before:
                out[str(k)] = v
            else:
                sub = leaf_changes(before[k], v)
                if sub is not UNCHANGED:
                    out[str(k)] = sub
        for k in before:
            if k not in after:
                out[str(k)] = None
        return out if out else UNCHANGED
    if isinstance(after, (list, tuple)):
        out = {}
        for i, v in enumerate(after):
            if i >= len(before):
                out[str(i)] = v
            else:
                sub = leaf_changes(before[i], v)
                if sub is not UNCHANGED:
                    out[str(i)] = sub
        for i in range(len(after), len(before)):
            out[str(i)] = None
        return out if out else UNCHANGED
    return UNCHANGED if before == after else after


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


class _Encoder(json.JSONEncoder):
    """JSON for the changed-values baseline: a new dataclass row is sent as its fields."""

    def default(self, o: Any) -> Any:
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return _fields(o)
        return super().default(o)


# Built once, as a server would: json.dumps with options makes a new encoder per call.
_encode = _Encoder(separators=(",", ":")).encode


def compact_json(value: Any) -> str:
    """The wire encoding every size in the benchmarks uses."""
    return _encode(value)


def changed_values_json(before: Data, after: Data) -> str:
    """Compact JSON of just the changed leaves: the smallest honest "what changed" message."""
    changes = leaf_changes(before, after)
    return compact_json({} if changes is UNCHANGED else changes)


def snapshot(data: Data) -> Data:
    return copy.deepcopy(data)
