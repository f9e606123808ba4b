"""lt_engine.journal: what changed in named values since a mark, and replaying it on a copy."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from lt_engine import track
from lt_engine.journal import DeltaMismatch, Journal, apply


def encode(value: Any) -> bytes:
    return pickle.dumps(value)


def rows(n: int) -> Any:
    return track([{"id": i, "done": False, "title": f"t{i}"} for i in range(n)])


def replay(ops: list[Any], copy_of: dict[str, Any]) -> None:
    def assign(name: str, value: Any) -> None:
        copy_of[name] = value

    apply(ops, copy_of, assign, copy_of.pop, pickle.loads)


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
