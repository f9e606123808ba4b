"""Tracked containers report what changed, and the engine's updates stay exact with them."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from collections import namedtuple
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lt_engine
from lt_engine.tracked import TrackedDict, TrackedList, track, untrack
from tests.strategies import apply_list_step, list_steps, strict_eq


@dataclasses.dataclass
class Todo:
    id: int
    title: str
    done: bool = False
    tags: list[str] = dataclasses.field(default_factory=list)


class Plain:
    def __init__(self, id: int, title: str) -> None:
        self.id, self.title, self.done, self.tags = id, title, False, ["a"]


class Slotted:
    __slots__ = ("id", "title", "done", "tags", "__weakref__")

    def __init__(self, id: int, title: str) -> None:
        self.id, self.title, self.done, self.tags = id, title, False, ["a"]

ROWS = ('<ul>{% for t in todos %}<li data-key="{{ t.id }}" class="{{ "done" if t.done }}">'
        "{{ t.title }}{% for tag in t.tags %}<i>{{ tag }}</i>{% endfor %}</li>{% endfor %}</ul>"
        "{{ todos|length }}")
# the same rows, numbered: appends change every row's loop.last / loop.length
NUMBERED = ('{% for t in todos %}<p data-key="{{ t.id }}">{{ loop.index }}/{{ loop.length }}'
            "{{ t.title }}{{ '.' if loop.last }}</p>{% endfor %}")


def rows(n: int) -> list[dict]:
    return [{"id": i, "title": f"t{i}", "done": False, "tags": ["a"]} for i in range(n)]


def test_track_converts_nested_lists_and_dicts_and_renders_the_same() -> None:
    data = {"todos": rows(3), "pair": (1, [2])}
    tracked = track(data)
    assert type(tracked) is TrackedDict and type(tracked["todos"]) is TrackedList
    assert type(tracked["todos"][0]["tags"]) is TrackedList
    assert tracked == data and json.dumps(tracked) == json.dumps(data)
    assert repr(tracked["todos"]) == repr(data["todos"])
    tpl = "{{ todos }}{{ todos|tojson }}{{ todos[0]|dictsort }}"
    assert (lt_engine.Environment().from_string(tpl).render(tracked)
            == jinja2.Environment(autoescape=True).from_string(tpl).render(data))
    assert untrack(tracked) == data and type(untrack(tracked)["todos"]) is list


def test_changes_since_names_changed_items_and_gives_up_on_structure() -> None:
    items = track(rows(5))
    v = items.lt_version
    items[3]["done"] = True
    items[1]["tags"].append("b")
    changed, length = items.lt_changes_since(v)
    assert sorted(changed) == [1, 3] and length == 5
    v = items.lt_version
    assert items.lt_changes_since(v) == ([], 5)
    items.append(track({"id": 9}))
    items[0]["done"] = True
    items[5]["done"] = True  # appended after v: new, not changed
    assert items.lt_changes_since(v) == ([0], 5)
    v = items.lt_version
    items.insert(0, track({"id": 10}))
    items[4]["done"] = True  # was index 3 before the insert
    assert items.lt_changes_since(v) is None
    v = items.lt_version
    items[4]["title"] = "x"
    assert items.lt_changes_since(v) == ([4], 7)


def test_untracked_mutable_items_force_a_full_scan() -> None:
    items = track(rows(2))
    items.append({"id": 5})  # a plain dict: its changes cannot be seen
    assert items.lt_changes_since(items.lt_version) is None
    items.pop()
    assert items.lt_changes_since(items.lt_version) == ([], 2)


def test_pickle_round_trip() -> None:
    items = track(rows(2))
    again = pickle.loads(pickle.dumps(items))
    assert type(again) is TrackedList and again == items
    again[0]["done"] = True
    assert again.lt_changes_since(0) == ([0], 2)


OPS = st.sampled_from(["toggle", "rename", "tag", "append", "append", "insert", "delete",
                       "reverse", "sort", "replace", "untracked", "share", "extend",
                       "plain-tags"])


def row(kind: str, id: int, title: str, done: bool, tags: list[str]) -> Any:
    if kind == "dict":
        return {"id": id, "title": title, "done": done, "tags": tags}
    obj = Todo(id, title) if kind == "dataclass" else Plain(id, title)
    obj.done, obj.tags = done, tags
    return obj


def setf(item: Any, name: str, value: Any) -> None:
    if isinstance(item, dict):
        item[name] = value
    else:
        setattr(item, name, value)


def getf(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, dict) else getattr(item, name)


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(OPS, st.integers(0, 50)), min_size=1, max_size=12),
       st.sampled_from([ROWS, NUMBERED]), st.sampled_from(["dict", "dataclass", "plain"]))
def test_engine_updates_are_exact_with_tracked_data(ops: list[tuple[str, int]],
                                                    source: str, kind: str) -> None:
    data = track({"todos": [row(kind, i, f"t{i}", False, ["a"]) for i in range(6)]})
    todos = data["todos"]
    tpl = lt_engine.Environment().from_string(source)
    oracle = jinja2.Environment(autoescape=True).from_string(source)
    m = tpl.mount(data)
    client = copy.deepcopy(m.tree)
    next_id = 100
    for op, k in ops:
        i = k % len(todos) if todos else 0
        if op == "toggle" and todos:
            setf(todos[i], "done", not getf(todos[i], "done"))
        elif op == "rename" and todos:
            setf(todos[i], "title", f"r{k}")
        elif op == "tag" and todos:
            getf(todos[i], "tags").append(f"g{k}")
        elif op == "append":
            todos.append(track(row(kind, next_id, "n", False, [])))
        elif op == "extend":
            todos.extend(track([row(kind, next_id, "e", True, []),
                                row(kind, -next_id, "f", False, ["y"])]))
        elif op == "insert":
            todos.insert(i, track(row(kind, next_id, "m", True, ["x"])))
        elif op == "delete" and todos:
            del todos[i]
        elif op == "reverse":
            todos.reverse()
        elif op == "sort":
            todos.sort(key=lambda t: getf(t, "title"))
        elif op == "replace" and todos:
            todos[i] = track(row(kind, next_id, "z", False, []))
        elif op == "untracked":
            todos.append(row(kind, next_id, "plain", False, []))
        elif op == "share" and todos:
            other = TrackedList([todos[i]])  # the same item in two tracked lists
            setf(other[0], "title", f"s{k}")
        elif op == "plain-tags" and todos:
            # A plain list put into a tracked item, then changed in place.  A tracked dict holds
            # it as it is and cannot see it change, so its list must fall back to scanning; a
            # tracked object holds a tracked copy (the append below reaches only the original).
            tags: list[str] = []
            setf(todos[i], "tags", tags)
            tags.append(f"p{k}")
        next_id += 1
        update = m.update(data)
        client = lt_engine.apply_update(client, update)
        expected = oracle.render(untrack(data))
        assert m.html() == expected
        assert lt_engine.to_html(client) == expected


def test_a_plain_list_put_into_tracked_data_is_still_seen_when_it_changes() -> None:
    # Regression: a tracked dict holding a plain list could not see it change in place, and the
    # list it was in kept trusting it, so the page went stale.
    tpl = lt_engine.Environment().from_string(ROWS)
    data = track({"todos": rows(2)})
    m = tpl.mount(data)
    tags = ["x"]
    data["todos"][0]["tags"] = tags
    m.update(data)
    tags.append("y")
    m.update(data)
    assert m.html() == jinja2.Environment(autoescape=True).from_string(ROWS).render(
        untrack(data))
    assert "<i>x</i><i>y</i>" in m.html()


@dataclasses.dataclass(frozen=True)
class Frozen:
    items: Any


@pytest.mark.parametrize("wrap", [lambda x: (x,), lambda x: Frozen(x)], ids=["tuple", "frozen"])
def test_a_tracked_list_inside_a_tuple_is_still_seen_when_it_changes(wrap: Any) -> None:
    # Regression: a tuple (or a frozen dataclass) counted as immutable when its items were
    # tracked, but a tracked item reports to its own parent, not through the tuple: the list
    # holding the tuple trusted it and the page went stale.
    inner = track([1])
    rows = track([wrap(inner)])
    assert rows.lt_opaque == 1 and rows.lt_changes_since(rows.lt_version) is None
    source = "{% for row in rows %}{% for x in row[0] %}{{ x }},{% endfor %};{% endfor %}"
    if not isinstance(rows[0], tuple):
        source = source.replace("row[0]", "row.items")
    m = lt_engine.Environment().from_string(source).mount({"rows": rows})
    inner.append(2)
    m.update({"rows": rows})
    assert m.html() == jinja2.Environment(autoescape=True).from_string(source).render(
        rows=untrack(rows)) == "1,2,;"


@pytest.mark.parametrize("make", [lambda i: Todo(i, f"t{i}"), lambda i: Plain(i, f"t{i}"),
                                  lambda i: Slotted(i, f"t{i}")], ids=["dataclass", "plain",
                                                                       "slots"])
def test_tracked_objects_report_attribute_assignment(make: Any) -> None:
    items = track([make(i) for i in range(4)])
    assert items.lt_changes_since(items.lt_version) == ([], 4)
    v = items.lt_version
    items[2].done = True
    assert items.lt_changes_since(v) == ([2], 4)
    v = items.lt_version
    items[1].tags.append("b")  # the nested list was tracked with its object
    assert type(items[1].tags) is TrackedList
    assert items.lt_changes_since(v) == ([1], 4)
    v = items.lt_version
    items[3].tags = ["c"]  # assigned values are tracked too
    assert type(items[3].tags) is TrackedList
    items[3].tags.append("d")
    assert items.lt_changes_since(v) == ([3], 4)
    items[0].tags = {"x"}  # a set: its changes cannot be seen, so the list is scanned
    assert items.lt_changes_since(items.lt_version) is None
    items[0].tags = ["x"]
    assert items.lt_changes_since(items.lt_version) == ([], 4)


def test_tracked_objects_look_like_the_originals() -> None:
    todo = Todo(1, "a", tags=["x"])
    tracked = track(Todo(1, "a", tags=["x"]))
    assert tracked.__class__ is Todo and isinstance(tracked, Todo)
    assert tracked == todo and todo == tracked and repr(tracked) == repr(todo)
    assert dataclasses.asdict(tracked) == dataclasses.asdict(todo)
    assert vars(tracked).keys() == vars(todo).keys()
    again = pickle.loads(pickle.dumps(tracked))
    assert type(again) is Todo and again == todo  # a plain copy comes back
    assert type(copy.deepcopy(tracked)) is Todo and type(copy.copy(tracked)) is Todo
    plain = untrack(tracked)
    assert type(plain) is Todo and type(plain.tags) is list and plain == todo
    assert type(tracked) is not Todo  # untrack copied: the tracked object stays tracked


def test_objects_that_cannot_be_tracked_are_left_alone_and_scanned() -> None:
    Pair = namedtuple("Pair", "a b")

    @dataclasses.dataclass(frozen=True)
    class Frozen:
        a: int

    class Meta(type):
        pass

    class Model(metaclass=Meta):
        def __init__(self) -> None:
            self.a = 1

    pair, frozen, model = Pair(1, 2), Frozen(1), Model()
    assert track(pair) is pair and track(frozen) is frozen and track(model) is model
    assert type(model) is Model
    assert track([pair, frozen]).lt_changes_since(0) == ([], 2)  # immutable: nothing to see
    assert track([model]).lt_changes_since(0) is None  # mutable, unseen: scanned


def test_a_list_names_the_items_it_cannot_see_change() -> None:
    items = track(rows(4))
    assert items.lt_opaque == 0 and items.lt_opaque_indices() == []
    v = items.lt_version
    items.append({"id": 4})  # plain: unseen
    items[1]["tags"] = ["x"]  # a plain list into a tracked row: the row turns opaque, in place
    other = track([])
    other.append(items[2])  # shared: the list can no longer hear it
    assert items.lt_opaque == 3 and items.lt_opaque_indices() == [1, 2, 4]
    assert [items.lt_opaque_at(i) for i in range(5)] == [False, True, True, False, True]
    assert items.lt_changes_since(v) is None  # it cannot vouch for everything
    assert items.lt_changes_since(v, True) == ([2, 1], 4)  # what it saw, newest first
    items.insert(0, 1)
    assert items.lt_changes_since(v, True) is None  # structure: only a scan can tell


@settings(max_examples=300, deadline=None)
@given(list_steps, st.integers(0, 5))
def test_what_a_list_saw_plus_its_opaque_items_cover_every_change(steps: list[Any],
                                                                  n: int) -> None:
    items = track([{"id": i, "done": False} for i in range(n)])
    other = track([])
    for step in steps:
        v = items.lt_version
        before = untrack(items)
        opaque = set(items.lt_opaque_indices())
        structural = apply_list_step(items, other, step, track)
        assert len(items.lt_opaque_indices()) == items.lt_opaque
        changes = items.lt_changes_since(v, True)
        if structural:
            assert changes is None
            continue
        assert changes is not None
        seen, length = changes
        assert length == len(before)
        covered = set(seen) | opaque | set(range(length, len(items)))
        for i, item in enumerate(items):
            if i >= length or not strict_eq(untrack(item), before[i]) or items.lt_opaque_at(i):
                assert i in covered, (step, i)
