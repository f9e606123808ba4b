"""The diff core as a readable spec: render a tiny template, assert the exact tree; change the
data, assert the exact minimal update."""

from __future__ import annotations

import copy
import dataclasses
import gc

import jinja2
import pytest
from markupsafe import Markup

import lt_engine

env = lt_engine.Environment()
oracle = jinja2.Environment(autoescape=True)


def live(source: str, data: dict) -> lt_engine.Mount:
    return env.from_string(source).mount(data)


def check(source: str, data: dict, m: lt_engine.Mount, client: dict) -> None:
    expected = oracle.from_string(source).render(data)
    assert m.html() == expected
    assert lt_engine.to_html(client) == expected


def test_tree_of_a_counter() -> None:
    m = live("<p>{{ n }}</p><b>{{ label }}</b>", {"n": 1, "label": "x"})
    assert m.tree == {"s": ["<p>", "</p><b>", "</b>"], "0": "1", "1": "x"}


def test_update_holds_only_changed_slots() -> None:
    m = live("<p>{{ n }}</p><b>{{ label }}</b>", {"n": 1, "label": "x"})
    assert m.update({"n": 2, "label": "x"}) == {"0": "2"}
    assert m.update({"n": 2, "label": "x"}) == {}


@pytest.mark.parametrize(
    ("before", "after", "update"),
    [(1, True, {"0": "True"}), (5, 5.0, {"0": "5.0"}), (0.0, -0.0, {"0": "-0.0"}),
     ("1", 1, {}), (None, "None", {})],
)
def test_changes_are_type_strict(before: object, after: object, update: dict) -> None:
    m = live("{{ v }}", {"v": before})
    assert m.update({"v": after}) == update


def test_slot_values_are_strings_and_escaped() -> None:
    m = live("{{ a }}|{{ b }}|{{ c }}", {"a": 7, "b": "<x>", "c": Markup("<y>")})
    assert m.tree == {"s": ["", "|", "|", ""], "0": "7", "1": "&lt;x&gt;", "2": "<y>"}


def test_branch_switch_sends_statics_and_same_branch_only_dynamics() -> None:
    src = "{% if a %}<b>{{ n }}</b>{% else %}<i>{{ n }}</i>{% endif %}"
    m = live(src, {"a": True, "n": 1})
    assert m.tree == {"s": ["", ""], "0": {"s": ["<b>", "</b>"], "0": "1"}}
    assert m.update({"a": True, "n": 2}) == {"0": {"0": "2"}}
    assert m.update({"a": False, "n": 2}) == {"0": {"s": ["<i>", "</i>"], "0": "2"}}


def test_false_if_without_else_is_empty_string() -> None:
    m = live("{% if a %}<b>yes</b>{% endif %}", {"a": True})
    assert m.tree == {"s": ["", ""], "0": {"s": ["<b>yes</b>"]}}
    assert m.update({"a": False}) == {"0": ""}


ROWS = '{% for t in todos %}<li data-key="{{ t.id }}">{{ t.title }}{{ " ✓" if t.done }}</li>{% endfor %}'


def todos(n: int = 3) -> list[dict]:
    return [{"id": i, "title": f"t{i}", "done": False} for i in range(n)]


def test_range_tree_names_its_key_slot() -> None:
    m = live(ROWS, {"todos": todos(2)})
    # a top-level range sits in a node of its own (docs/protocol.md rule 3a)
    assert m.tree["0"]["s"] == ["", ""]
    assert m.tree["0"]["0"] == {
        "s": ['<li data-key="', '">', "", "</li>"],
        "d": [{"0": "0", "1": "t0", "2": ""}, {"0": "1", "1": "t1", "2": ""}],
        "m": {"idKey": "0"},
    }


def test_in_place_mutation_of_a_row_is_found() -> None:
    data = {"todos": todos(1000)}
    m = live(ROWS, data)
    data["todos"][417]["done"] = True
    assert m.update(data) == {"0": {"0": [["u", "417", {"2": " ✓"}]]}}


def test_in_place_append_remove_insert() -> None:
    data = {"todos": todos(3)}
    m = live(ROWS, data)
    client = copy.deepcopy(m.tree)
    data["todos"].append({"id": 9, "title": "new", "done": False})
    update = m.update(data)
    assert update == {"0": {"0": [["a", [{"0": "9", "1": "new", "2": ""}]]]}}
    client = lt_engine.apply_update(client, update)
    del data["todos"][0]
    assert m.update(data) == {"0": {"0": [["r", "0"]]}}
    client = lt_engine.apply_update(client, {"0": {"0": [["r", "0"]]}})
    data["todos"].insert(1, {"id": 5, "title": "mid", "done": True})
    update = m.update(data)
    assert update == {"0": {"0": [["i", "1", {"0": "5", "1": "mid", "2": " ✓"}]]}}
    client = lt_engine.apply_update(client, update)
    check(ROWS, data, m, client)


def test_changed_names_limit_what_is_reread() -> None:
    data = {"todos": todos(3), "title": "a"}
    src = "<h1>{{ title }}</h1>" + ROWS
    m = live(src, data)
    data["todos"][1]["done"] = True
    data["title"] = "b"
    # Only `title` is declared changed: the in-place row change is trusted not to exist.
    assert m.update(data, changed={"title"}) == {"0": "b"}
    assert m.update(data, changed=["todos"]) == {"1": {"0": [["u", "1", {"2": " ✓"}]]}}


def test_unkeyed_items_are_numbered_by_position() -> None:
    m = live("{% for x in xs %}<i>{{ x }}</i>{% endfor %}", {"xs": ["a", "a"]})
    items = m.tree["0"]["0"]["d"]
    assert [it["0"] for it in items] == ["a", "a"]
    assert [it["_k"] for it in items] == ["0", "1"] and "m" not in m.tree["0"]["0"]
    assert m.update({"xs": ["b", "a"]}) == {"0": {"0": [["u", "0", {"0": "b"}]]}}


class Base:
    kind = "class default"  # a plain class attribute: the instance's own value shadows it

    @property
    def label(self) -> str:  # a data descriptor: it wins over an instance __dict__ entry
        return f"<{self.name}>"


class Row(Base):
    def __init__(self, name: str) -> None:
        self.name = name
        self.__dict__["label"] = "shadowed, never shown"


class Lookup:
    """No attribute ``name``: jinja2 falls back to ``row["name"]``."""

    def __init__(self, name: str) -> None:
        self.data = {"name": name}

    def __getitem__(self, key: str) -> str:
        return self.data[key]


class Slotted:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def test_object_attributes_keep_jinja2_semantics_when_mutated() -> None:
    source = ("{% for r in rows %}<li>{{ r.name }}|{{ r.label }}|{{ r.kind }}|{{ r.missing }}"
              "</li>{% endfor %}")
    oracle = jinja2.Environment(autoescape=True).from_string(source)
    rows = [Row("a"), Lookup("b"), Slotted("c"), Row("d")]
    data = {"rows": rows}
    m = live(source, data)
    client = copy.deepcopy(m.tree)

    def step() -> None:
        nonlocal client
        client = lt_engine.apply_update(client, m.update(data))
        assert lt_engine.to_html(client) == m.html() == oracle.render(data)

    step()
    rows[0].name = "A"  # through the instance __dict__
    rows[3].kind = "own"  # now shadows the class attribute
    step()
    rows[1].data["name"] = "B"  # through __getitem__
    rows[2].name = "C"  # a slot
    step()
    del rows[3].kind  # back to the class attribute
    Base.kind = "changed default"
    step()
    assert "<li>A|&lt;A&gt;|changed default|</li>" in m.html()


def test_duplicate_keys_are_made_unique() -> None:
    m = live(ROWS, {"todos": [{"id": 1, "title": "a"}, {"id": 1, "title": "b"}]})
    items = m.tree["0"]["0"]["d"]
    assert "_k" not in items[0] and items[1]["_k"] == "1#2"


def test_reversal_is_one_reorder_op() -> None:
    data = {"todos": todos(5)}
    m = live(ROWS, data)
    data["todos"].reverse()
    assert m.update(data) == {"0": {"0": [["o", ["4", "3", "2", "1", "0"]]]}}


def test_moving_one_item_is_remove_and_insert() -> None:
    data = {"todos": todos(30)}
    m = live(ROWS, data)
    data["todos"].insert(20, data["todos"].pop(2))
    assert m.update(data) == {
        "0": {"0": [["r", "2"], ["i", "20", {"0": "2", "1": "t2", "2": ""}]]}
    }


def test_replacing_everything_sends_a_whole_range() -> None:
    m = live(ROWS, {"todos": todos(20)})
    fresh = [{"id": 100 + i, "title": "n", "done": False} for i in range(20)]
    update = m.update({"todos": fresh})["0"]
    assert isinstance(update["0"], dict) and update["0"]["s"] and len(update["0"]["d"]) == 20


def test_emptied_range_keeps_statics_and_for_else_shows() -> None:
    src = "{% for x in xs %}<i>{{ x }}</i>{% else %}none{% endfor %}"
    m = live(src, {"xs": ["a"]})
    assert m.tree["0"]["1"] == ""
    update = m.update({"xs": []})["0"]
    assert update == {"0": [["r", update["0"][0][1]]], "1": {"s": ["none"]}}
    m2 = live(src, {"xs": []})
    assert m2.tree["0"]["0"] == {"s": ["<i>", "</i>"], "d": []}


def test_nested_ranges_update_only_changed_cells() -> None:
    src = ('{% for r in rows %}<tr data-key="{{ loop.index0 }}">{% for c in r %}'
           '<td data-key="{{ loop.index0 }}">{{ c }}</td>{% endfor %}</tr>{% endfor %}')
    data = {"rows": [[i * 10 + j for j in range(10)] for i in range(10)]}
    m = live(src, data)
    data["rows"][3][7] = 1000
    assert m.update(data) == {"0": {"0": [["u", "3", {"1": [["u", "7", {"1": "1000"}]]}]]}}


def test_only_affected_slots_are_evaluated() -> None:
    calls: list[str] = []

    def spy(value: object) -> object:
        calls.append(str(value))
        return value

    local = lt_engine.Environment()
    local.filters["spy"] = spy
    data = {"a": 1, "items": [{"v": i} for i in range(50)]}
    m = local.from_string("{{ a|spy }}{% for it in items %}{{ it.v|spy }}{% endfor %}").mount(data)
    calls.clear()
    data["items"][10]["v"] = 99
    m.update(data)
    assert calls == ["99"]


def test_filters_that_take_the_context_rerun_every_update() -> None:
    calls: list[object] = []

    @jinja2.pass_context
    def who(ctx: jinja2.runtime.Context, value: object) -> str:
        calls.append(value)
        return f"{value}@{ctx.get('site')}"

    local = lt_engine.Environment()
    local.filters["who"] = who
    m = local.from_string("{{ name|who }}").mount({"name": "a", "site": "x"})
    assert m.tree["0"] == "a@x"
    assert m.update({"name": "a", "site": "y"}) == {"0": "a@y"}
    assert len(calls) == 2


def test_mount_holds_state_outside_the_cyclic_gc() -> None:
    data = {"todos": todos(200)}
    tpl = env.from_string(ROWS)
    gc.collect()
    before = len(gc.get_objects())
    m = tpl.mount(data)
    tracked = len(gc.get_objects()) - before
    assert m.html()
    # one list of values per row; the row states themselves are not GC-tracked
    assert tracked <= 210


# --- unchanged items skip their reads (RangeState.stamps) ---------------------------------------
# An item of an unkeyed loop whose dict (its own, or the object's __dict__) has the version seen
# when its leaves were last found unchanged is not read again.  Every way of changing an item must
# still be seen: through attribute assignment (also once CPython specialises it), the __dict__,
# dict methods, a replaced __dict__ or class, and positions shifting under the stamps.


@dataclasses.dataclass
class Msg:
    user: str
    text: str


class LabelMsg(Msg):
    @property
    def text(self) -> str:  # type: ignore[override]  # now a data descriptor wins
        return "from the property"

    @text.setter
    def text(self, value: str) -> None:
        pass


def _set_attr_hot(row: Msg, value: str) -> None:
    row.text = value  # run many times below, so the interpreter specialises this store


def _replace_dict(row: Msg, value: str) -> None:
    row.__dict__ = {"user": row.user, "text": value}


def _share_dict(rows: list, value: str) -> None:
    rows[1].__dict__ = rows[2].__dict__
    rows[2].text = value


OBJECT_CHANGES = {
    "attribute": lambda rows, v: setattr(rows[2], "text", v),
    "hot attribute": lambda rows, v: _set_attr_hot(rows[2], v),
    "__dict__ item": lambda rows, v: rows[2].__dict__.__setitem__("text", v),
    "vars().update": lambda rows, v: vars(rows[2]).update(text=v),
    "del then set": lambda rows, v: (delattr(rows[2], "text"), setattr(rows[2], "text", v)),
    "__dict__ replaced": lambda rows, v: _replace_dict(rows[2], v),
    "shared __dict__": _share_dict,
    "class replaced": lambda rows, v: setattr(rows[2], "__class__", LabelMsg),
    "same object twice": lambda rows, v: (rows.__setitem__(3, rows[2]),
                                          setattr(rows[2], "text", v)),
    "swap then change": lambda rows, v: (rows.__setitem__(slice(1, 3), [rows[2], rows[1]]),
                                         setattr(rows[1], "text", v)),
    "append then change": lambda rows, v: (rows.append(Msg("z", "new")),
                                           setattr(rows[0], "user", v)),
}

DICT_CHANGES = {
    "item": lambda rows, v: rows[2].__setitem__("text", v),
    "update": lambda rows, v: rows[2].update(text=v),
    "pop then set": lambda rows, v: (rows[2].pop("text"), rows[2].__setitem__("text", v)),
    "clear then refill": lambda rows, v: (rows[2].clear(), rows[2].update(user="c", text=v)),
    "setdefault on a missing key": lambda rows, v: (rows[2].pop("text"),
                                                     rows[2].setdefault("text", v)),
    "popitem then set": lambda rows, v: (rows[2].popitem(), rows[2].__setitem__("text", v)),
    "replaced by an equal dict": lambda rows, v: rows.__setitem__(2, dict(rows[2], text=v)),
}

STAMPED = ("{% for m in rows %}<li>{{ loop.index }}/{{ loop.length }} {{ m.user }}: "
           "{{ m.text }}</li>{% endfor %}")
STAMPED_KEYED = ('{% for m in rows %}<li data-key="{{ m.user }}">{{ loop.index }} {{ m.text }}'
                 "</li>{% endfor %}")


def _run_changes(source: str, rows: list, change: object) -> None:
    data = {"rows": rows}
    m = live(source, data)
    client = copy.deepcopy(m.tree)
    for round_ in range(40):  # enough rounds for the interpreter to specialise the stores
        client = lt_engine.apply_update(client, m.update(data))
        check(source, data, m, client)
        change(rows, f"v{round_}")  # type: ignore[operator]
    client = lt_engine.apply_update(client, m.update(data))
    check(source, data, m, client)


@pytest.mark.parametrize("source", [STAMPED, STAMPED_KEYED], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize("name", list(OBJECT_CHANGES))
def test_unchanged_objects_skip_reads_yet_every_change_is_seen(source: str, name: str) -> None:
    _run_changes(source, [Msg(u, f"{u}!") for u in "abcde"], OBJECT_CHANGES[name])


@pytest.mark.parametrize("source", [STAMPED, STAMPED_KEYED], ids=["unkeyed", "keyed"])
@pytest.mark.parametrize("name", list(DICT_CHANGES))
def test_unchanged_dicts_skip_reads_yet_every_change_is_seen(source: str, name: str) -> None:
    _run_changes(source, [{"user": u, "text": f"{u}!"} for u in "abcde"], DICT_CHANGES[name])


def test_a_skipped_item_still_updates_its_loop_positions() -> None:
    data = {"rows": [Msg("a", "x"), Msg("b", "y")]}
    m = live(STAMPED, data)
    client = copy.deepcopy(m.tree)
    for _ in range(3):
        client = lt_engine.apply_update(client, m.update(data))  # stamps taken
    data["rows"].append(Msg("c", "z"))  # loop.length changes in every unchanged item
    update = m.update(data)
    assert [op[0] for op in update["0"]["0"]] == ["u", "u", "a"]
    client = lt_engine.apply_update(client, update)
    check(STAMPED, data, m, client)
