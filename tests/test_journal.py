"""lt_engine.journal: what changed in named values since a mark, and replaying it on a copy."""

from __future__ import annotations

import copy
import pickle
import sys
from array import array
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lt_engine import track
from lt_engine._core import dict_stamp, held, opaque_scan, restamped
from lt_engine.journal import DeltaMismatch, Journal, apply
from lt_engine.tracked import TrackedDict, TrackedList, unseen, untrack
from tests.strategies import apply_list_step, holds_twice, list_steps, strict_eq


def encode(value: Any) -> bytes:
    return pickle.dumps(value)


def rows(n: int) -> Any:
    return track([{"id": i, "done": False, "title": f"t{i}"} for i in range(n)])


def replay(ops: list[Any], copy_of: dict[str, Any], tracked: bool = False) -> None:
    def assign(name: str, value: Any) -> None:
        copy_of[name] = track(value) if tracked else value

    apply(ops, copy_of, assign, copy_of.pop, pickle.loads, tracked)


def test_a_toggled_row_of_a_tracked_list_is_the_whole_delta() -> None:
    values = {"title": "Todos", "todos": rows(10_000)}
    journal = Journal(encode)
    journal.mark(values)
    values["todos"][1234]["done"] = True
    ops = journal.delta(values)
    assert ops == [("i", "todos", 10_000, [(1234, encode(values["todos"][1234]))], [])]
    assert len(pickle.dumps(ops)) < 200  # one row, not 10,000
    assert journal.delta(values) == []  # marked: nothing since


def test_appends_new_values_and_removals() -> None:
    values: dict[str, Any] = {"n": 1, "log": track(["a"]), "gone": 0}
    journal = Journal(encode)
    journal.mark(values)
    values["log"].append("b")
    values["n"] = 2
    del values["gone"]
    values["new"] = {"x": 1}
    ops = journal.delta(values)
    assert ("i", "log", 1, [], [encode("b")]) in ops
    assert ("=", "n", encode(2)) in ops and ("-", "gone") in ops
    assert ("=", "new", encode({"x": 1})) in ops


def test_a_structural_change_or_an_untracked_list_travels_whole() -> None:
    values: dict[str, Any] = {"todos": rows(3), "plain": [1, 2]}
    journal = Journal(encode)
    journal.mark(values)
    values["todos"].insert(0, {"id": 9})
    values["plain"].append(3)
    ops = journal.delta(values)
    assert [op[0] for op in ops] == ["=", "="]
    assert journal.delta(values, mark=False) == []


def test_an_unchanged_scalar_is_compared_by_value_not_encoded() -> None:
    encoded: list[Any] = []

    def counting(value: Any) -> bytes:
        encoded.append(value)
        return pickle.dumps(value)

    values: dict[str, Any] = {"title": "Todos", "count": 1, "flag": None, "ratio": 0.0}
    journal = Journal(counting)
    journal.mark(values)
    encoded.clear()
    values["count"] = 2
    assert journal.delta(values) == [("=", "count", pickle.dumps(2))]
    assert encoded == [2, 0.0]  # not the unchanged str and None; a float always (0.0 == -0.0)
    # Equal across types or signs, yet rendered differently: still changes.
    for name, value in (("count", True), ("ratio", -0.0), ("flag", 0), ("title", b"Todos")):
        values[name] = value
        assert journal.delta(values) == [("=", name, pickle.dumps(value))], name


def test_replaying_a_delta_gives_the_same_values() -> None:
    values: dict[str, Any] = {"n": 1, "todos": rows(50)}
    journal = Journal(encode)
    journal.mark(values)
    other = {"n": 1, "todos": copy.deepcopy(values["todos"])}
    values["todos"][7]["title"] = "changed"
    values["todos"].append({"id": 50, "done": True, "title": "new"})
    values["n"] = 5
    replay(journal.delta(values), other)
    assert other == values


def test_a_delta_that_does_not_start_where_the_copy_is_is_refused() -> None:
    values: dict[str, Any] = {"todos": rows(5)}
    journal = Journal(encode)
    journal.mark(values)
    values["todos"][0]["done"] = True
    ops = journal.delta(values)
    with pytest.raises(DeltaMismatch):
        replay(ops, {"todos": track([1, 2])})


# ---------------------------------------------------------------------------------------------
# Tracked lists holding opaque items (a plain dict appended by an action)

# Dicts have versions on CPython 3.10 to 3.12 (PEP 509); elsewhere every opaque item is encoded.
STAMPS = sys.implementation.name == "cpython" and (3, 10) <= sys.version_info[:2] <= (3, 12)


def test_a_dict_of_scalars_has_a_stamp_and_other_values_none() -> None:
    row = {"id": 1, "title": "\ud800\x00\U0001f600", "done": False, "n": None, "f": -0.0,
           "b": b""}
    assert (dict_stamp(row) != 0) is STAMPS
    assert (dict_stamp(track({"a": 1})) != 0) is STAMPS
    assert dict_stamp({"tags": []}) == dict_stamp({"m": {}}) == dict_stamp([1]) == 0
    assert dict_stamp({"t": (1,)}) == 0  # only the plainest scalars


@pytest.mark.skipif(not STAMPS, reason="dicts have no version on this Python")
def test_a_stamp_moves_with_every_change_of_its_dict() -> None:
    row = {"id": 1, "done": False}
    items = TrackedList([row, {"id": 2}])
    at, stamps = array("q", [0, 1]), array("Q", [dict_stamp(row), dict_stamp(items[1])])
    assert restamped(items, at, stamps) == []
    row["done"] = False  # the same object again: no change
    assert restamped(items, at, stamps) == []
    row["done"] = True
    assert restamped(items, at, stamps) == [0]
    items[1] = {"id": 2}  # another dict, equal
    assert restamped(items, at, stamps) == [0, 1]
    assert restamped(items, array("q", [5]), array("Q", [1])) == [5]  # no such index


def test_a_scan_finds_the_opaque_items_and_a_repeated_one() -> None:
    shared = track({"id": 3})
    items = TrackedList([1, "a", {"id": 0}, {"id": 1, "tags": []}, [2], shared])  # plain rows
    items.append({"id": 5})
    track([]).append(shared)  # held by another list: opaque here
    at, stamps, others, twice = opaque_scan(items, unseen)
    stamped = [2, 5, 6] if STAMPS else []
    assert list(at) == stamped and len(stamps) == len(stamped)
    assert sorted(others + list(at)) == items.lt_opaque_indices() == [2, 3, 4, 5, 6]
    assert not twice
    items.append(items[6])
    assert opaque_scan(items, unseen)[3]


def test_held_counts_the_places_of_one_object() -> None:
    row = {"id": 1}
    items = TrackedList([row, {"id": 1}, 3])
    assert held(items, row) == 1
    items.append(row)
    assert held(items, row) == 2 and held(items, {"id": 1}) == 0


def with_plain_rows(n: int, plain_every: int) -> Any:
    """``n`` rows, every ``plain_every``-th a plain dict appended as an action does."""
    items = rows(0)
    for i in range(n):
        row = {"id": i, "done": False, "title": f"t{i}"}
        items.append(row if i % plain_every == 0 else track(row))
    return items


def test_a_list_holding_plain_dicts_sends_the_rows_that_changed() -> None:
    values = {"todos": rows(1000)}
    journal = Journal(encode)
    journal.mark(values)
    todos = values["todos"]
    todos.append({"id": 1000, "done": False, "title": "new"})  # plain: the list turns opaque
    assert journal.delta(values) == [("i", "todos", 1000, [], [encode(todos[1000])])]
    todos[1000]["done"] = True  # unseen by the list: found by the dict's stamp
    todos[7]["done"] = True  # seen
    ops = journal.delta(values)
    assert ops == [("i", "todos", 1001, [(7, encode(todos[7])), (1000, encode(todos[1000]))],
                    [])]
    assert len(pickle.dumps(ops)) < 300
    assert journal.delta(values) == []


def test_an_unchanged_opaque_list_encodes_only_what_has_no_stamp() -> None:
    calls: list[Any] = []

    def counting(value: Any) -> bytes:
        calls.append(value)
        return encode(value)

    todos = with_plain_rows(1000, 100)  # ten plain dicts of scalars
    todos.append({"id": "n", "tags": ["a"]})  # holds a list: compared by its encoding
    values = {"todos": todos}
    journal = Journal(counting)
    journal.mark(values)
    encoded = [todos[1000]] if STAMPS else [todos[i] for i in range(0, 1001, 100)]
    assert calls == encoded
    calls.clear()
    assert journal.delta(values) == []
    assert calls == encoded  # not the list, nor (by their stamps) the dicts of scalars
    calls.clear()
    todos[1000]["tags"].append("b")
    assert journal.delta(values) == [("i", "todos", 1001, [(1000, encode(todos[1000]))], [])]
    assert all(value is todos[1000] for value in calls)


def test_a_row_that_turns_opaque_in_place_is_followed() -> None:
    values = {"todos": rows(3)}
    journal = Journal(encode)
    journal.mark(values)
    todos = values["todos"]
    tags = ["a"]
    todos[1]["tags"] = tags  # a plain list into a tracked row: the row turns opaque
    assert journal.delta(values) == [("i", "todos", 3, [(1, encode(todos[1]))], [])]
    tags.append("b")  # unseen by the row and the list
    assert journal.delta(values) == [("i", "todos", 3, [(1, encode(todos[1]))], [])]
    elsewhere = rows(0)
    elsewhere.append(todos[2])  # now shared: its old holder hears of it at its index
    assert journal.delta(values) == [("i", "todos", 3, [(2, encode(todos[2]))], [])]
    elsewhere[0]["done"] = True  # through the other holder: the list cannot see it
    assert journal.delta(values) == [("i", "todos", 3, [(2, encode(todos[2]))], [])]


def test_one_object_held_twice_travels_whole_so_the_copy_holds_it_twice() -> None:
    values = {"todos": rows(3)}
    journal = Journal(encode)
    journal.mark(values)
    other = {"todos": copy.deepcopy(values["todos"])}
    todos = values["todos"]
    plain = {"id": 9, "done": False}
    todos.append(plain)
    todos.append(plain)
    ops = journal.delta(values)
    assert [op[0] for op in ops] == ["="]
    replay(ops, other)
    assert other["todos"][3] is other["todos"][4]
    plain["done"] = True
    assert [op[0] for op in journal.delta(values)] == ["="]
    assert journal.delta(values) == []  # compared whole, as any value


def test_many_replaced_rows_then_one_held_twice() -> None:
    values = {"todos": with_plain_rows(3, 1)}
    journal = Journal(encode)
    journal.mark(values)
    other = pickle.loads(pickle.dumps(values))
    todos = values["todos"]
    for n in range(100):  # objects come and go: the journal forgets the ids of those gone
        todos[n % 3] = {"id": n, "tags": [n]}
        ops = journal.delta(values)
        assert ops == [("i", "todos", 3, [(n % 3, encode(todos[n % 3]))], [])]
        replay(ops, other)
    assert other == values
    todos[2] = todos[0]
    assert [op[0] for op in journal.delta(values)] == ["="]


def test_a_structural_change_sends_the_whole_list_then_rows_again() -> None:
    values = {"todos": with_plain_rows(100, 2)}
    journal = Journal(encode)
    journal.mark(values)
    todos = values["todos"]
    todos.insert(0, {"id": -1})
    assert [op[0] for op in journal.delta(values)] == ["="]
    todos[0]["done"] = True
    assert journal.delta(values) == [("i", "todos", 101, [(0, encode(todos[0]))], [])]


@pytest.mark.parametrize("tracked", [True, False])
def test_rows_arriving_in_a_tracked_list_are_tracked_when_asked(tracked: bool) -> None:
    values = {"todos": rows(3)}
    journal = Journal(encode)
    journal.mark(values)
    other = {"todos": pickle.loads(pickle.dumps(values["todos"]))}
    values["todos"].append({"id": 3, "done": False, "title": "plain"})
    values["todos"][0] = {"id": 0, "done": True, "title": "plain too"}
    replay(journal.delta(values), other, tracked)
    copied = other["todos"]
    assert untrack(copied) == untrack(values["todos"])
    assert type(copied) is TrackedList
    assert {type(copied[0]), type(copied[3])} == {TrackedDict if tracked else dict}
    assert (copied.lt_opaque == 0) is tracked  # the copy's own deltas are cheap too


@settings(max_examples=300, deadline=None)
@given(list_steps, st.integers(0, 6), st.booleans())
def test_replayed_deltas_of_a_changing_list_give_the_same_values(steps: list[Any], n: int,
                                                                 tracked: bool) -> None:
    todos = track([{"id": i, "done": False, "title": f"t{i}"} for i in range(n)])
    values: dict[str, Any] = {"todos": todos, "other": track([])}
    journal = Journal(encode)
    journal.mark(values)
    copy_of = pickle.loads(pickle.dumps(values))  # the copy another worker loaded
    twice = False
    for step in steps:
        structural = apply_list_step(todos, values["other"], step, track)
        ops = journal.delta(values)
        replay(ops, copy_of, tracked)
        assert strict_eq(untrack(copy_of), untrack(values)), (step, ops)
        # An object held twice, at the mark or now, makes the list travel whole (see above).
        twice, was_twice = holds_twice(todos), twice
        if not structural and not twice and not was_twice:
            assert not any(op[:2] == ("=", "todos") for op in ops), (step, ops)
        assert journal.delta(values, mark=False) == []
