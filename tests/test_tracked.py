"""Tracked containers report what changed, and the engine's updates stay exact with them."""

from __future__ import annotations

import copy
import json
import pickle

import jinja2
from hypothesis import given, settings
from hypothesis import strategies as st

import lt_engine
from lt_engine.tracked import TrackedDict, TrackedList, track, untrack

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
                       "reverse", "sort", "replace", "untracked", "share", "extend"])


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(OPS, st.integers(0, 50)), min_size=1, max_size=12),
       st.sampled_from([ROWS, NUMBERED]))
def test_engine_updates_are_exact_with_tracked_data(ops: list[tuple[str, int]],
                                                    source: str) -> None:
    data = track({"todos": rows(6)})
    todos = data["todos"]
    tpl = lt_engine.Environment().from_string(source)
    oracle = jinja2.Environment(autoescape=True).from_string(source)
    m = tpl.mount(data)
    client = copy.deepcopy(m.tree)
    next_id = 100
    for op, k in ops:
        i = k % len(todos) if todos else 0
        if op == "toggle" and todos:
            todos[i]["done"] = not todos[i]["done"]
        elif op == "rename" and todos:
            todos[i]["title"] = f"r{k}"
        elif op == "tag" and todos:
            todos[i]["tags"].append(f"g{k}")
        elif op == "append":
            todos.append(track({"id": next_id, "title": "n", "done": False, "tags": []}))
        elif op == "extend":
            todos.extend(track([{"id": next_id, "title": "e", "done": True, "tags": []},
                                {"id": -next_id, "title": "f", "done": False, "tags": ["y"]}]))
        elif op == "insert":
            todos.insert(i, track({"id": next_id, "title": "m", "done": True, "tags": ["x"]}))
        elif op == "delete" and todos:
            del todos[i]
        elif op == "reverse":
            todos.reverse()
        elif op == "sort":
            todos.sort(key=lambda t: t["title"])
        elif op == "replace" and todos:
            todos[i] = track({"id": next_id, "title": "z", "done": False, "tags": []})
        elif op == "untracked":
            todos.append({"id": next_id, "title": "plain", "done": False, "tags": []})
        elif op == "share" and todos:
            other = TrackedList([todos[i]])  # the same dict in two tracked lists
            other[0]["title"] = f"s{k}"
        next_id += 1
        update = m.update(data)
        client = lt_engine.apply_update(client, update)
        expected = oracle.render(untrack(data))
        assert m.html() == expected
        assert lt_engine.to_html(client) == expected
