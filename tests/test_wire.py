"""The reference merge (apply_update) and join (to_html) of the wire format."""

from __future__ import annotations

import copy

import pytest

from lt_engine import ProtocolError, apply_update, to_html
from lt_engine.wire import merged

RANGE = {
    "s": ["<li id=\"", "\">", "</li>"],
    "d": [{"0": "a", "1": "A"}, {"0": "b", "1": "B"}],
    "m": {"idKey": "0"},
}


def tree() -> dict:
    return {"s": ["<ul>", "</ul><p>", "</p>"], "0": copy.deepcopy(RANGE), "1": "x"}


def test_to_html_joins_statics_and_slots() -> None:
    assert to_html(tree()) == '<ul><li id="a">A</li><li id="b">B</li></ul><p>x</p>'


def test_string_change_replaces_slot() -> None:
    assert apply_update(tree(), {"1": "y"})["1"] == "y"


def test_node_with_statics_replaces_and_partial_node_merges() -> None:
    t = {"s": ["", ""], "0": {"s": ["<b>", "</b>"], "0": "1"}}
    t = apply_update(t, {"0": {"0": "2"}})
    assert to_html(t) == "<b>2</b>"
    t = apply_update(t, {"0": {"s": ["<i>", "", "</i>"], "0": "3", "1": "4"}})
    assert to_html(t) == "<i>34</i>"
    t = apply_update(t, {"0": ""})
    assert to_html(t) == ""


@pytest.mark.parametrize(
    ("ops", "html"),
    [
        ([["r", "a"]], '<li id="b">B</li>'),
        ([["u", "b", {"1": "Z"}]], '<li id="a">A</li><li id="b">Z</li>'),
        ([["a", [{"0": "c", "1": "C"}]]], '<li id="a">A</li><li id="b">B</li><li id="c">C</li>'),
        ([["p", [{"0": "c", "1": "C"}]]], '<li id="c">C</li><li id="a">A</li><li id="b">B</li>'),
        ([["i", "a", {"0": "c", "1": "C"}]],
         '<li id="a">A</li><li id="c">C</li><li id="b">B</li>'),
        ([["o", ["b", "a"]]], '<li id="b">B</li><li id="a">A</li>'),
        ([["r", "a"], ["r", "b"]], ""),
    ],
)
def test_range_ops(ops: list, html: str) -> None:
    t = apply_update(tree(), {"0": ops})
    assert to_html(t["0"]) == html


def test_explicit_key_wins_over_id_key() -> None:
    t = tree()
    t["0"]["d"].append({"0": "a", "1": "dup", "_k": "a#2"})
    t = apply_update(t, {"0": [["r", "a#2"]]})
    assert [it["1"] for it in t["0"]["d"]] == ["A", "B"]


def test_append_may_carry_statics() -> None:
    t = apply_update(tree(), {"0": [["a", [{"0": "c", "1": "C"}], ["<b>", "", "</b>"]]]})
    assert t["0"]["s"] == ["<b>", "", "</b>"]


def test_whole_range_replacement() -> None:
    new = {"s": ["<i>", "</i>"], "d": [{"0": "q", "_k": "k1"}]}
    assert to_html(apply_update(tree(), {"0": new})["0"]) == "<i>q</i>"


def test_merged_leaves_input_alone() -> None:
    t = tree()
    merged(t, {"1": "changed"})
    assert t["1"] == "x"


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"1": [["r", "a"]]}, "holds no range"),
        ({"1": {"0": "x"}}, "holds no node"),
        ({"0": [["u", "zz", {}]]}, "no range item with key 'zz'"),
        ({"0": [["o", ["a"]]]}, "every remaining key"),
        ({"0": [["x"]]}, "unknown range op"),
        ({"1": 5}, "unexpected change"),
    ],
)
def test_bad_updates_raise_protocol_error(update: dict, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        apply_update(tree(), update)


def test_item_without_key_in_unkeyed_range() -> None:
    t = {"s": ["", ""], "0": {"s": ["", ""], "d": [{"0": "a"}]}}
    with pytest.raises(ProtocolError, match="without a key"):
        apply_update(t, {"0": [["r", "a"]]})
