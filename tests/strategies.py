"""Hypothesis strategies for the differential tests of ``lt_engine`` against Jinja2.

Three things are generated:

* **data** over one fixed schema (``DATA_SCHEMA`` below), so that templates can be written
  against known names and types;
* **templates** from a small, type-aware grammar: every expression is built from names that are
  in scope and of a type the surrounding construct accepts, so Jinja2 renders nearly all of them
  without error (the tests still ``reject()`` the rare ones that raise);
* **mutation steps**: abstract operations (``("item_done", 7, True)``) whose list indices are
  resolved modulo the current length when applied, so one step sequence is valid for any data and
  shrinks well.  Steps mutate the *same* objects in place (as user code does), replace top-level
  keys, or build fresh data.

The module only depends on hypothesis, jinja2 and markupsafe; it never imports the engine, so it
can be validated against Jinja2 alone.
"""

from __future__ import annotations

import copy
from collections import namedtuple
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st
from markupsafe import Markup

# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

DATA_SCHEMA = """
title:   str (sometimes Markup)
count:   int | float | bool | None           (type-strict changes: 1 -> 1.0 -> True)
flag:    bool
label:   str | int | Markup | None           ("1" -> 1)
user:    {"name": str, "admin": bool}
items:   [{"id": int, "name": str, "done": bool, "tags": [str]}]   (ids repeat on purpose)
rows:    [[int]]
mapping: {str: int}                           (insertion order matters for iteration)
"""

TOP_NAMES = ("title", "count", "flag", "label", "user", "items", "rows", "mapping")

# Characters that must be escaped, non-ASCII (one outside the BMP) and whitespace (trim, title and
# wordcount care).
_ALPHABET = "ab <>&'\"é\n\t😀"

texts = st.one_of(
    st.sampled_from(["", "a", "b", "A b", "<b>", "x&y", "'q'", '"dq"', "  pad ", "1", "é"]),
    st.text(alphabet=_ALPHABET, max_size=6),
)
# Any code point: lone surrogates (JSON carries them, UTF-8 cannot), NUL, astral characters; for
# values that never meet Jinja2 (stored, pickled, replayed).
any_texts = st.one_of(texts, st.text(st.characters(exclude_categories=()), max_size=6),
                      st.sampled_from(["\x00", "\ud800", "a\udfffb", "\U0001f600", "\x00\udc80"]))
markups = st.sampled_from([Markup("<i>m</i>"), Markup("a &amp; b"), Markup("")])

# -0.0 renders differently from 0.0 although they compare equal; 5.0 vs 5 differ only by type.
floats = st.sampled_from([0.0, -0.0, 0.5, 1.0, 2.5, 5.0, -1.25, 1e16])
counts = st.one_of(st.integers(-3, 9), floats, st.booleans(), st.none())
labels = st.one_of(texts, st.integers(0, 3), st.sampled_from(["1", "0"]), markups, st.none())
ids = st.integers(0, 6)  # small range: duplicate ids are common


@st.composite
def items_st(draw: Any) -> dict[str, Any]:
    return {
        "id": draw(ids),
        "name": draw(st.one_of(texts, texts, markups)),
        "done": draw(st.booleans()),
        "tags": draw(st.lists(texts, max_size=3)),
    }


users = st.fixed_dictionaries({"name": texts, "admin": st.booleans()})
rows_st = st.lists(st.lists(st.integers(-5, 9), max_size=4), max_size=3)
MAP_KEYS = ("a", "b", "c", "d", "e")
mappings = st.dictionaries(st.sampled_from(MAP_KEYS), st.integers(-3, 9), max_size=4)


@st.composite
def data_st(draw: Any) -> dict[str, Any]:
    return {
        "title": draw(st.one_of(texts, markups)),
        "count": draw(counts),
        "flag": draw(st.booleans()),
        "label": draw(labels),
        "user": draw(users),
        "items": draw(st.lists(items_st(), max_size=5)),
        "rows": draw(rows_st),
        "mapping": draw(mappings),
    }


# Rows as Python apps write them: the same ``items`` as objects of several kinds.  Mutation
# steps read and write rows through ``get_field``/``set_field``, so every op works on every kind
# (a named tuple is immutable: "setting" a field replaces the row in its list).


@dataclass
class DataRow:
    id: Any
    name: Any
    done: Any
    tags: list[Any]


class SlotRow:
    __slots__ = ("id", "name", "done", "tags")

    def __init__(self, id: Any, name: Any, done: Any, tags: list[Any]) -> None:
        self.id, self.name, self.done, self.tags = id, name, done, tags

    def __deepcopy__(self, memo: dict[int, Any]) -> SlotRow:
        return SlotRow(*(copy.deepcopy(getattr(self, f), memo) for f in ROW_FIELDS))


class PropRow:
    """Fields behind properties: attribute reads run code (jinja2's getattr does too)."""

    def __init__(self, id: Any, name: Any, done: Any, tags: list[Any]) -> None:
        self._f = {"id": id, "name": name, "done": done, "tags": tags}

    id = property(lambda self: self._f["id"], lambda self, v: self._f.__setitem__("id", v))
    name = property(lambda self: self._f["name"], lambda self, v: self._f.__setitem__("name", v))
    done = property(lambda self: self._f["done"], lambda self, v: self._f.__setitem__("done", v))
    tags = property(lambda self: self._f["tags"], lambda self, v: self._f.__setitem__("tags", v))


TupleRow = namedtuple("TupleRow", "id name done tags")  # noqa: PYI024 - as users write them
ROW_FIELDS = ("id", "name", "done", "tags")
ROW_KINDS: dict[str, Any] = {"dict": None, "dataclass": DataRow, "slots": SlotRow,
                             "property": PropRow, "namedtuple": TupleRow}
row_kinds = st.sampled_from(sorted(ROW_KINDS))


def make_row(kind: str, fields: dict[str, Any]) -> Any:
    cls = ROW_KINDS[kind]
    return dict(fields) if cls is None else cls(*(fields[f] for f in ROW_FIELDS))


def with_rows(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """``data`` with its ``items`` made rows of ``kind``."""
    if kind != "dict" and "items" in data:
        data = {**data, "items": [make_row(kind, it) for it in data["items"]]}
    return data


def row_kind_of(items: list[Any]) -> str:
    for kind, cls in ROW_KINDS.items():
        if items and (cls is None and isinstance(items[0], dict) or type(items[0]) is cls):
            return kind
    return "dict"


def get_field(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, dict) else getattr(row, name)


def set_field(items: list[Any], i: int, name: str, value: Any) -> None:
    row = items[i]
    if isinstance(row, dict):
        row[name] = value
    elif isinstance(row, tuple):
        items[i] = row._replace(**{name: value})
    else:
        setattr(row, name, value)


def _fields(obj: Any) -> dict[str, Any] | None:
    if isinstance(obj, (DataRow, SlotRow, PropRow)):
        return {f: getattr(obj, f) for f in ROW_FIELDS}
    return None


def strict_eq(a: Any, b: Any) -> bool:
    """Equality that also requires equal types, equal dict order and equal float sign.

    This is the notion of "nothing changed" the engine must honour: ``1 == True`` and
    ``0.0 == -0.0`` in Python, yet they render differently.
    """
    if type(a) is not type(b):
        return False
    fields = _fields(a)
    if fields is not None:
        return strict_eq(fields, _fields(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(strict_eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    return bool(a == b)


def changed_names(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """Top-level names whose value differs (type-strictly) between two snapshots."""
    names = set(old) | set(new)
    return {n for n in names if n not in old or n not in new or not strict_eq(old[n], new[n])}


# ---------------------------------------------------------------------------------------------
# Mutation steps
# ---------------------------------------------------------------------------------------------


def _retype(v: Any) -> Any:
    """The same value (as Python's == sees it) under another type, or another rendering."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return True if v == 1 else float(v)
    if isinstance(v, float):
        if v == 0.0:
            return 0.0 if repr(v) == "-0.0" else -0.0
        return int(v) if v.is_integer() and abs(v) < 1e15 else v
    if isinstance(v, Markup):
        return str(v)
    if isinstance(v, str):
        return int(v) if v.isdigit() else Markup(v)
    if v is None:
        return ""
    return v


_i = st.integers(0, 9)  # raw index, taken modulo the current length

inplace_ops = st.one_of(
    st.tuples(st.just("set_title"), st.one_of(texts, markups)),
    st.tuples(st.just("set_count"), counts),
    st.tuples(st.just("retype"), st.sampled_from(["count", "label", "title"])),
    st.tuples(st.just("toggle_flag")),
    st.tuples(st.just("set_label"), labels),
    st.tuples(st.just("user_name"), texts),
    st.tuples(st.just("user_admin"), st.booleans()),
    st.tuples(st.just("user_replace"), users),
    st.tuples(st.just("item_done"), _i, st.booleans()),
    st.tuples(st.just("item_name"), _i, texts),
    st.tuples(st.just("item_id"), _i, ids),
    st.tuples(st.just("item_retype_id"), _i),
    st.tuples(st.just("tag_append"), _i, texts),
    st.tuples(st.just("tag_del"), _i, _i),
    st.tuples(st.just("items_append"), items_st()),
    st.tuples(st.just("items_insert"), _i, items_st()),
    st.tuples(st.just("items_del"), _i),
    st.tuples(st.just("items_pop")),
    st.tuples(st.just("items_reverse")),
    st.tuples(st.just("items_sort"), st.sampled_from(["name", "id", "done"]), st.booleans()),
    st.tuples(st.just("items_swap"), _i, _i),
    st.tuples(st.just("items_dup_ref"), _i),
    st.tuples(st.just("items_dup_copy"), _i, _i),
    st.tuples(st.just("items_clear")),
    st.tuples(st.just("items_replace"), st.lists(items_st(), max_size=4)),
    st.tuples(st.just("items_same_copy")),
    st.tuples(st.just("rows_append"), st.lists(st.integers(-5, 9), max_size=3)),
    st.tuples(st.just("row_append"), _i, st.integers(-5, 9)),
    st.tuples(st.just("row_set"), _i, _i, st.integers(-5, 9)),
    st.tuples(st.just("rows_del"), _i),
    st.tuples(st.just("rows_reverse")),
    st.tuples(st.just("map_set"), st.sampled_from(MAP_KEYS), st.integers(-3, 9)),
    st.tuples(st.just("map_del"), st.sampled_from(MAP_KEYS)),
    st.tuples(st.just("map_reorder")),
    st.tuples(st.just("map_replace"), mappings),
    # A top-level name disappears (-> Undefined) and may come back through set_*/retype.
    st.tuples(st.just("del_key"), st.sampled_from(["title", "count", "label", "flag"])),
    # Two top-level names share one object: a later in-place edit changes both.
    st.tuples(st.just("alias_user"), _i),
)


def apply_op(d: dict[str, Any], op: tuple[Any, ...]) -> None:
    """Apply one abstract mutation to ``d`` in place (nested objects mutated in place too)."""
    kind, args = op[0], op[1:]
    items, rows, mapping = d["items"], d["rows"], d["mapping"]
    if kind == "set_title":
        d["title"] = args[0]
    elif kind == "set_count":
        d["count"] = args[0]
    elif kind == "alias_user":
        if items:
            d["user"] = items[args[0] % len(items)]
    elif kind == "del_key":
        d.pop(args[0], None)
    elif kind == "retype":
        if args[0] not in d:
            d[args[0]] = None
            return
        v = d[args[0]]
        if args[0] == "title":
            # title stays str-like (templates take its length): swap str <-> Markup only.
            d["title"] = str(v) if isinstance(v, Markup) else Markup(v)
        else:
            d[args[0]] = _retype(v)
    elif kind == "toggle_flag":
        d["flag"] = not d.get("flag")
    elif kind == "set_label":
        d["label"] = args[0]
    elif kind in ("user_name", "user_admin"):
        user, field = d["user"], kind[5:]
        if isinstance(user, dict):
            user[field] = args[0]
        elif field in ROW_FIELDS and not isinstance(user, tuple):
            setattr(user, field, args[0])  # a row aliased as the user (alias_user)
    elif kind == "user_replace":
        d["user"] = dict(args[0])
    elif kind in ("item_done", "item_name", "item_id", "item_retype_id", "tag_append"):
        if not items:
            return
        i = args[0] % len(items)
        if kind == "item_done":
            set_field(items, i, "done", args[1])
        elif kind == "item_name":
            set_field(items, i, "name", args[1])
        elif kind == "item_id":
            set_field(items, i, "id", args[1])
        elif kind == "item_retype_id":
            set_field(items, i, "id", _retype(get_field(items[i], "id")))
        else:
            get_field(items[i], "tags").append(args[1])
    elif kind == "tag_del":
        if items:
            tags = get_field(items[args[0] % len(items)], "tags")
            if tags:
                del tags[args[1] % len(tags)]
    elif kind == "items_append":
        items.append(make_row(row_kind_of(items), copy.deepcopy(args[0])))
    elif kind == "items_insert":
        items.insert(args[0] % (len(items) + 1),
                     make_row(row_kind_of(items), copy.deepcopy(args[1])))
    elif kind == "items_del":
        if items:
            del items[args[0] % len(items)]
    elif kind == "items_pop":
        if items:
            items.pop()
    elif kind == "items_reverse":
        items.reverse()
    elif kind == "items_sort":
        items.sort(key=lambda x: get_field(x, args[0]), reverse=args[1])
    elif kind == "items_swap":
        if items:
            i, j = args[0] % len(items), args[1] % len(items)
            items[i], items[j] = items[j], items[i]
    elif kind == "items_dup_ref":
        # The *same* row twice: a later in-place edit of it changes two rows at once.
        if items:
            items.append(items[args[0] % len(items)])
    elif kind == "items_dup_copy":
        if items:
            items[args[1] % len(items)] = copy.deepcopy(items[args[0] % len(items)])
    elif kind == "items_clear":
        items.clear()
    elif kind == "items_replace":
        d["items"] = [make_row(row_kind_of(items), it) for it in copy.deepcopy(args[0])]
    elif kind == "items_same_copy":
        # New objects, equal values: the update must be empty if nothing else changed.
        d["items"] = copy.deepcopy(items)
    elif kind == "rows_append":
        rows.append(list(args[0]))
    elif kind == "row_append":
        if rows:
            rows[args[0] % len(rows)].append(args[1])
    elif kind == "row_set":
        if rows:
            row = rows[args[0] % len(rows)]
            if row:
                row[args[1] % len(row)] = args[2]
    elif kind == "rows_del":
        if rows:
            del rows[args[0] % len(rows)]
    elif kind == "rows_reverse":
        rows.reverse()
    elif kind == "map_set":
        mapping[args[0]] = args[1]
    elif kind == "map_del":
        mapping.pop(args[0], None)
    elif kind == "map_reorder":
        # Same keys and values, reversed insertion order: iteration order changes in place.
        pairs = list(mapping.items())
        mapping.clear()
        mapping.update(reversed(pairs))
    elif kind == "map_replace":
        d["mapping"] = dict(args[0])
    else:  # pragma: no cover - a typo in the op table
        raise ValueError(kind)


# A step is ("inplace", [ops]) | ("fresh", data) | ("noop",) | ("copy",).
steps_st = st.lists(
    st.one_of(
        st.tuples(st.just("inplace"), st.lists(inplace_ops, min_size=1, max_size=3)),
        st.tuples(st.just("inplace"), st.lists(inplace_ops, min_size=1, max_size=3)),
        st.tuples(st.just("inplace"), st.lists(inplace_ops, min_size=1, max_size=3)),
        st.tuples(st.just("fresh"), data_st()),
        st.tuples(st.just("noop")),
        st.tuples(st.just("copy")),
    ),
    min_size=1,
    max_size=5,
)


def apply_step(data: dict[str, Any], step: tuple[Any, ...]) -> dict[str, Any]:
    """Return the data for the next step: ``data`` itself mutated in place, or a new dict."""
    if step[0] == "inplace":
        for op in step[1]:
            apply_op(data, op)
        return data
    if step[0] == "fresh":
        return copy.deepcopy(step[1])
    if step[0] == "copy":
        return copy.deepcopy(data)  # keeps aliasing inside the data (deepcopy memo)
    return data


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Expressions available at a point of the template, grouped by the type they evaluate to.

    ``nums`` are always numbers (never None), so arithmetic on them cannot fail; ``strs`` are
    str-like; ``outs`` are anything printable (may be None, int, Markup, a dict ...).
    """

    strs: tuple[str, ...]
    nums: tuple[str, ...]
    ints: tuple[str, ...]
    bools: tuple[str, ...]
    outs: tuple[str, ...]
    item_lists: tuple[str, ...]
    str_lists: tuple[str, ...]
    int_lists: tuple[str, ...]
    dicts: tuple[str, ...]
    loop_depth: int = 0
    macros: bool = False
    include: bool = False

    def add(self, **kinds: str) -> Scope:
        changes = {k: getattr(self, k) + (v,) for k, v in kinds.items()}
        return replace(self, **changes)


TOP_SCOPE = Scope(
    strs=("title", "user.name", "user['name']", "label|string", "title|string"),
    nums=(
        "(count or 0)",
        "items|length",
        "rows|length",
        "mapping|length",
        "title|length",
        "(mapping['a']|default(0))",
        "items|sum(attribute='id')",
    ),
    ints=("items|length", "mapping|length", "(mapping.b|default(1))", "rows|count"),
    bools=(
        "flag",
        "user.admin",
        "count is none",
        "label is none",
        "count is defined",
        "missing is defined",
        "items",
        "not rows",
        "'a' in mapping",
    ),
    outs=(
        "title",
        "count",
        "flag",
        "label",
        "user.name",
        "missing",
        "count|default('d')",
        # Item access that may miss (empty list): ``or {}`` keeps the attribute lookup legal.
        "(items[0] or {}).name",
        "(items[-1] or {})['id']",
        "(rows[0] or [0])[0]",
    ),
    item_lists=(
        "items",
        "items|selectattr('done')|list",
        "items|rejectattr('done')",
        "items|sort(attribute='name')",
        "items|reverse",
        "items[:3]",
        "items[1:]",
        "items|unique(attribute='id')|list",
    ),
    str_lists=(
        "items|map(attribute='name')|list",
        "mapping|list",
        "title|string|list",
        "user.name.split(' ')",
    ),
    int_lists=("rows[0]", "mapping.values()|list", "items|map(attribute='id')|list", "rows|first"),
    dicts=("mapping", "user"),
)


class Namer:
    """Hands out fresh variable names inside one generated template."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"


def _lit_str(draw: Any) -> str:
    return draw(st.sampled_from(["'x'", "'<i>'", "'a&b'", "''", "' q '", '"dq\'"']))


def str_expr(draw: Any, sc: Scope, depth: int = 2) -> str:
    base = draw(st.sampled_from(sc.strs)) if draw(st.integers(0, 4)) else _lit_str(draw)
    if depth <= 0:
        return base
    choice = draw(st.integers(0, 12))
    if choice <= 3:
        return base
    if choice == 4:
        flt = draw(
            st.sampled_from(
                [
                    "upper",
                    "lower",
                    "title",
                    "trim",
                    "e",
                    "reverse",
                    "first",
                    "last",
                    "capitalize",
                    "replace('a', '<')",
                    "replace('<', 'lt')",
                    "truncate(4, True, '..', 0)",
                    "default('dflt', true)",
                    "center(9)",
                    "striptags",
                ]
            )
        )
        return f"{base}|{flt}"
    if choice == 5:
        return f"{base} ~ {str_expr(draw, sc, depth - 1)}"
    if choice == 6:
        return f"{base} ~ {num_expr(draw, sc, depth - 1)}"
    if choice == 7:
        return f"'%s|%s'|format({base}, {num_expr(draw, sc, depth - 1)})"
    if choice == 8:
        b = bool_expr(draw, sc, depth - 1)
        return f"({base} if {b} else {str_expr(draw, sc, depth - 1)})"
    if choice == 9:
        return f"{list_expr(draw, sc, 'str', depth - 1)}|join(', ')"
    if choice == 10:
        return f"{base}|safe"
    if choice == 11:
        return f"({base})[1:3]"
    return f"({base})|upper|replace(' ', '_')"


def num_expr(draw: Any, sc: Scope, depth: int = 2) -> str:
    if draw(st.integers(0, 5)):
        base = draw(st.sampled_from(sc.nums + sc.ints))
    else:
        base = str(draw(st.sampled_from([0, 1, 2, 7, -3, 2.5])))
    if depth <= 0:
        return base
    choice = draw(st.integers(0, 12))
    other = num_expr(draw, sc, depth - 1) if choice <= 6 else ""
    if choice == 0:
        return f"({base} + {other})"
    if choice == 1:
        return f"({base} - {other})"
    if choice == 2:
        return f"({base} * {draw(st.sampled_from(['2', '-1', '0.5']))})"
    if choice == 3:
        return f"({base} / {draw(st.sampled_from(['2', '4', '-1']))})"
    if choice == 4:
        return f"({base} // 3)"
    if choice == 5:
        return f"({base} % 3)"
    if choice == 6:
        return f"([{base}, {other}]|max)"
    if choice == 7:
        flt = draw(st.sampled_from(["abs", "round(1)", "round", "int", "float", "string|length"]))
        return f"({base})|{flt}"
    if choice == 8:
        return f"({list_expr(draw, sc, 'int', depth - 1)}|sum)"
    if choice == 9:
        return f"({list_expr(draw, sc, 'str', depth - 1)}|length)"
    if choice == 10:
        return f"({str_expr(draw, sc, depth - 1)}|wordcount)"
    return base


def int_expr(draw: Any, sc: Scope) -> str:
    return draw(st.sampled_from(sc.ints + ("1", "3", "(count or 0)|int")))


def bool_expr(draw: Any, sc: Scope, depth: int = 2) -> str:
    if depth <= 0 or draw(st.integers(0, 2)) == 0:
        return draw(st.sampled_from(sc.bools))
    choice = draw(st.integers(0, 11))
    if choice == 0:
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        return f"{num_expr(draw, sc, depth - 1)} {op} {num_expr(draw, sc, depth - 1)}"
    if choice == 1:
        return f"{str_expr(draw, sc, depth - 1)} == {str_expr(draw, sc, depth - 1)}"
    if choice == 2:
        return f"{_lit_str(draw)} in {str_expr(draw, sc, depth - 1)}"
    if choice == 3:
        return f"{_lit_str(draw)} in {list_expr(draw, sc, 'str', depth - 1)}"
    if choice == 4:
        return f"{int_expr(draw, sc)} is {draw(st.sampled_from(['odd', 'even']))}"
    if choice == 5:
        test = draw(st.sampled_from(["none", "defined", "undefined", "string", "number"]))
        return f"{draw(st.sampled_from(sc.outs))} is {test}"
    if choice == 6:
        return f"not {bool_expr(draw, sc, depth - 1)}"
    if choice == 7:
        a, b = bool_expr(draw, sc, depth - 1), bool_expr(draw, sc, depth - 1)
        return f"({a} {draw(st.sampled_from(['and', 'or']))} {b})"
    if choice == 8:
        # The test argument is parenthesised: ``a is eq b|length`` would filter the bool.
        return f"{num_expr(draw, sc, depth - 1)} is eq ({num_expr(draw, sc, depth - 1)})"
    if choice == 9:
        return f"{int_expr(draw, sc)} in {list_expr(draw, sc, 'int', depth - 1)}"
    if choice == 10:
        return f"{draw(st.sampled_from(sc.item_lists))}|selectattr('done')|list|length > 1"
    return draw(st.sampled_from(sc.bools))


def list_expr(draw: Any, sc: Scope, kind: str, depth: int = 1) -> str:
    pool = {"item": sc.item_lists, "str": sc.str_lists, "int": sc.int_lists}[kind]
    base = draw(st.sampled_from(pool))
    if depth <= 0 or draw(st.integers(0, 3)):
        return base
    if kind == "str":
        flt = draw(st.sampled_from(["sort", "unique", "reverse", "map('upper')"]))
    elif kind == "int":
        flt = draw(st.sampled_from(["sort", "unique", "reverse", "select('odd')"]))
    else:
        flt = draw(st.sampled_from(["sort(attribute='id')", "selectattr('id', 'odd')"]))
    return f"({base}|{flt}|list)"


def out_expr(draw: Any, sc: Scope) -> str:
    """Any printable expression: the content of ``{{ … }}``."""
    choice = draw(st.integers(0, 12))
    if choice <= 3:
        return str_expr(draw, sc)
    if choice <= 5:
        return num_expr(draw, sc)
    if choice == 6:
        return bool_expr(draw, sc)
    if choice == 7:
        return draw(st.sampled_from(sc.outs))
    if choice == 8:
        kind = draw(st.sampled_from(["str", "int"]))
        lst = list_expr(draw, sc, kind)
        flt = draw(
            st.sampled_from(
                ["join('/')", "length", "first", "last", "tojson", "list", "batch(2)|list"]
            )
        )
        return f"{lst}|{flt}"
    if choice == 9:
        d = draw(st.sampled_from(sc.dicts))
        flt = draw(st.sampled_from(["dictsort", "tojson", "length", "list|join(',')", "items()"]))
        return f"{d}.items()|list" if flt == "items()" else f"{d}|{flt}"
    if choice == 10:
        b = bool_expr(draw, sc, 1)
        if draw(st.booleans()):
            return f"{str_expr(draw, sc, 1)} if {b}"  # inline if without else -> ''
        return f"'yes' if {b} else 'no'"
    if choice == 11:
        lst = list_expr(draw, sc, "item", 0)
        return f"{lst}|map(attribute='name')|join(',')"
    # Undefined (``missing``, a miss on an empty list) is something tojson cannot serialise.
    jsonable = [o for o in sc.outs if o != "missing" and "or {}" not in o]
    return f"{draw(st.sampled_from(jsonable))}|tojson"


def _tag(draw: Any, inner: str) -> str:
    """A ``{% … %}`` tag, sometimes with whitespace control on either side."""
    left = draw(st.sampled_from(["{%", "{%", "{%", "{%-", "{%+"]))
    right = draw(st.sampled_from(["%}", "%}", "%}", "-%}"]))
    return f"{left} {inner} {right}"


def _out(draw: Any, expr: str) -> str:
    left = draw(st.sampled_from(["{{", "{{", "{{", "{{-"]))
    right = draw(st.sampled_from(["}}", "}}", "}}", "-}}"]))
    return f"{left} {expr} {right}"


STATIC_TEXTS = (
    "<p>",
    "</p>",
    "<li>",
    "</li>",
    " ",
    "\n",
    "  \n    ",
    "text",
    "&amp;",
    "<br/>",
    "a'b\"c",
    "\n  ",
)


def _loop(draw: Any, sc: Scope, namer: Namer, depth: int) -> str:
    kind = draw(st.sampled_from(["item", "item", "str", "int", "rows", "dict", "batch", "range"]))
    var = namer("x")
    key_attr = ""
    filt = ""
    inner = sc.add()  # copy; loop variables appended below
    loop_names = (
        "loop.index",
        "loop.index0",
        "loop.revindex",
        "loop.revindex0",
        "loop.length",
    )
    inner = replace(
        inner,
        nums=inner.nums + loop_names,
        ints=inner.ints + loop_names,
        bools=inner.bools + ("loop.first", "loop.last"),
        strs=inner.strs + ("loop.cycle('odd', 'even')",),
        outs=inner.outs + ("loop.index", "loop.first", "loop.last"),
        loop_depth=sc.loop_depth + 1,
    )
    if kind == "item":
        target = var
        it = list_expr(draw, sc, "item")
        inner = inner.add(
            strs=f"{var}.name",
            nums=f"{var}.id",
            ints=f"{var}['id']",
            bools=f"{var}.done",
            outs=f"{var}.id",
            str_lists=f"{var}.tags",
        )
        inner = inner.add(strs=f"{var}['name']", bools=f"'a' in {var}.tags")
        if draw(st.integers(0, 2)) == 0:
            filt = (
                f" if {draw(st.sampled_from([f'{var}.done', f'not {var}.done', f'{var}.id > 2']))}"
            )
        if draw(st.booleans()):
            attr = draw(st.sampled_from(["data-key", "id", "data-lvt-key", "key"]))
            key_attr = f'<li {attr}="{{{{ {var}.id }}}}">'
    elif kind == "str":
        target = var
        it = list_expr(draw, sc, "str")
        inner = inner.add(strs=var, outs=var)
        if draw(st.integers(0, 3)) == 0:
            filt = f" if {var}"
        if draw(st.integers(0, 2)) == 0:
            key_attr = f'<li data-key="{{{{ {var} }}}}">'
    elif kind == "int":
        target = var
        it = list_expr(draw, sc, "int")
        inner = inner.add(nums=var, ints=var, outs=var, bools=f"{var} is odd")
        if draw(st.integers(0, 3)) == 0:
            filt = f" if {var} is even"
    elif kind == "rows":
        target = var
        it = "rows"
        inner = inner.add(int_lists=var, outs=var, ints=f"{var}|length", nums=f"{var}|sum")
    elif kind == "batch":
        target = var
        it = f"{list_expr(draw, sc, 'item', 0)}|batch(2)"
        inner = inner.add(item_lists=var, ints=f"{var}|length", outs=f"{var}|length")
    elif kind == "range":
        target = var
        it = f"range({draw(st.sampled_from(['3', 'items|length', '(mapping|length) + 1']))})"
        inner = inner.add(nums=var, ints=var, outs=var)
    else:
        k, v = namer("k"), namer("v")
        target = f"{k}, {v}"
        src = draw(
            st.sampled_from(
                ["mapping.items()", "mapping|dictsort", "mapping|dictsort(reverse=true)"]
            )
        )
        it = src
        inner = inner.add(strs=k, outs=v, nums=v, ints=v)
        if draw(st.integers(0, 3)) == 0:
            key_attr = f'<li data-key="{{{{ {k} }}}}">'
    body = _body(draw, inner, namer, depth - 1)
    close_li = "</li>" if key_attr else ""
    out = _tag(draw, f"for {target} in {it}{filt}") + key_attr + body + close_li
    if draw(st.integers(0, 3)) == 0:
        out += _tag(draw, "else") + _body(draw, sc, namer, depth - 1)
    return out + _tag(draw, "endfor")


def _stmt(draw: Any, sc: Scope, namer: Namer, depth: int) -> tuple[str, Scope]:
    """One statement; returns its source and the scope for the statements after it."""
    kinds = ["text", "text", "out", "out", "out", "attr", "comment", "raw"]
    if depth > 0:
        kinds += ["if", "if", "for", "for", "for", "set", "setblock", "with", "filter"]
        kinds += ["namespace", "autoescape", "ifexpr", "setif"]
        if sc.macros:
            kinds += ["macro", "call"]
        if sc.include:
            kinds += ["include"]
    kind = draw(st.sampled_from(kinds))
    if kind == "text":
        return draw(st.sampled_from(STATIC_TEXTS)), sc
    if kind == "out":
        return _out(draw, out_expr(draw, sc)), sc
    if kind == "attr":
        attr = draw(st.sampled_from(["class", "title", "value"]))
        return f'<span {attr}="{_out(draw, str_expr(draw, sc))}">', sc
    if kind == "comment":
        return draw(st.sampled_from(["{# c #}", "{#- c -#}", "{# {{ title }} #}"])), sc
    if kind == "raw":
        return _tag(draw, "raw") + "{{ title }}<{% x %}>" + _tag(draw, "endraw"), sc
    if kind == "if":
        out = _tag(draw, f"if {bool_expr(draw, sc)}") + _body(draw, sc, namer, depth - 1)
        for _ in range(draw(st.integers(0, 2))):
            out += _tag(draw, f"elif {bool_expr(draw, sc)}") + _body(draw, sc, namer, depth - 1)
        if draw(st.booleans()):
            out += _tag(draw, "else") + _body(draw, sc, namer, depth - 1)
        return out + _tag(draw, "endif"), sc
    if kind == "ifexpr":
        b = bool_expr(draw, sc)
        return _out(draw, f"{str_expr(draw, sc)} if {b} else {num_expr(draw, sc)}"), sc
    if kind == "for":
        return _loop(draw, sc, namer, depth), sc
    if kind == "set":
        name = namer("s")
        if draw(st.booleans()):
            return _tag(draw, f"set {name} = {str_expr(draw, sc)}"), sc.add(strs=name, outs=name)
        return _tag(draw, f"set {name} = {num_expr(draw, sc)}"), sc.add(nums=name, outs=name)
    if kind == "setif":
        # A name set in branches of an if, read after it (jinja2: the branch taken's value,
        # else the value before the if, else undefined).
        name = namer("p")
        out = _tag(draw, f"set {name} = {str_expr(draw, sc)}") if draw(st.booleans()) else ""
        out += _tag(draw, f"if {bool_expr(draw, sc)}") + _tag(
            draw, f"set {name} = {str_expr(draw, sc)}") + _body(draw, sc, namer, depth - 1)
        if draw(st.booleans()):
            out += _tag(draw, f"elif {bool_expr(draw, sc)}") + _body(draw, sc, namer, depth - 1)
        if draw(st.booleans()):
            out += _tag(draw, "else") + _tag(draw, f"set {name} = {str_expr(draw, sc)}")
        return out + _tag(draw, "endif"), sc.add(strs=name, outs=name)
    if kind == "setblock":
        name = namer("b")
        body = _body(draw, sc, namer, depth - 1)
        src = _tag(draw, f"set {name}") + body + _tag(draw, "endset")
        return src, sc.add(strs=name, outs=name)
    if kind == "with":
        name = namer("w")
        inner = sc.add(nums=name, outs=name)
        src = _tag(draw, f"with {name} = {num_expr(draw, sc)}") + _body(
            draw, inner, namer, depth - 1
        )
        return src + _tag(draw, "endwith"), sc
    if kind == "filter":
        flt = draw(st.sampled_from(["upper", "lower", "trim", "title", "replace('a', 'A')"]))
        return _tag(draw, f"filter {flt}") + _body(draw, sc, namer, depth - 1) + _tag(
            draw, "endfilter"
        ), sc
    if kind == "autoescape":
        inner = _body(draw, sc, namer, depth - 1)
        return _tag(draw, "autoescape false") + inner + _tag(draw, "endautoescape"), sc
    if kind == "namespace":
        ns, x = namer("ns"), namer("x")
        lst = list_expr(draw, sc, "item", 0)
        cond = draw(st.sampled_from(["", f"{{% if {x}.done %}}", "{% if not loop.first %}"]))
        src = (
            f"{{% set {ns} = namespace(total=0, last='') %}}"
            f"{{% for {x} in {lst} %}}{cond}"
            f"{{% set {ns}.total = {ns}.total + {x}.id %}}{{% set {ns}.last = {x}.name %}}"
            f"{'{% endif %}' if cond else ''}"
            f"{_out(draw, f'{ns}.total')}{{% endfor %}}"
        )
        return src, sc.add(nums=f"{ns}.total", strs=f"{ns}.last", outs=f"{ns}.total")
    if kind == "macro":
        call = draw(
            st.sampled_from(
                [
                    f"badge({str_expr(draw, sc, 1)})",
                    f"badge({str_expr(draw, sc, 1)}, cls={str_expr(draw, sc, 1)})",
                    f"joinall('-', {num_expr(draw, sc, 1)}, {str_expr(draw, sc, 1)})",
                    "greet()",
                ]
            )
        )
        return _out(draw, call), sc
    if kind == "call":
        tag_name = draw(st.sampled_from(["'div'", "'p'", ""]))
        body = _body(draw, sc, namer, depth - 1)
        return _tag(draw, f"call wrap({tag_name})") + body + _tag(draw, "endcall"), sc
    assert kind == "include"
    return _tag(draw, "include 'part'"), sc


def _body(draw: Any, sc: Scope, namer: Namer, depth: int) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 3 if depth > 0 else 2))):
        src, sc = _stmt(draw, sc, namer, depth)
        parts.append(src)
    return "".join(parts)


MACROS = (
    "{% macro badge(text, cls='b') %}<span class=\"{{ cls }}\">{{ text }}</span>{% endmacro %}"
    "{% macro wrap(tag='div') %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
    "{% macro joinall(sep) %}{{ varargs|join(sep) }}{% endmacro %}"
    "{% macro greet() %}Hi {{ user.name }}!{% endmacro %}"
)


@st.composite
def template_st(draw: Any, *, depth: int = 3, include: bool = False) -> str:
    """One template source; with ``include`` it may ``{% include 'part' %}``."""
    macros = draw(st.booleans())
    sc = replace(TOP_SCOPE, macros=macros, include=include)
    body = _body(draw, sc, Namer(), depth)
    # A top-level statement that is always present, so the template is rarely all static.
    body += _out(draw, out_expr(draw, sc))
    return (MACROS if macros else "") + body


@st.composite
def template_set_st(draw: Any) -> tuple[str, dict[str, str]]:
    """A template set for a DictLoader: ``main`` (entry point), ``part``, and maybe ``base``.

    ``main`` either includes ``part`` (anywhere, including inside loops) or extends ``base``,
    overriding its blocks and calling ``super()``.
    """
    part = draw(template_st(depth=2))
    if draw(st.booleans()):
        main = draw(template_st(include=True, depth=3))
        return "main", {"main": main, "part": part}
    sc = TOP_SCOPE
    base = (
        "<html>"
        + _body(draw, sc, Namer(), 1)
        + "{% block head %}<h1>{{ title }}</h1>{% endblock %}"
        + _body(draw, sc, Namer(), 2)
        + "{% block body %}"
        + _body(draw, sc, Namer(), 1)
        + "{% endblock %}"
        + "{% block foot %}[{{ count }}]{% endblock %}</html>"
    )
    blocks = []
    for name in draw(st.lists(st.sampled_from(["head", "body", "foot"]), unique=True)):
        sup = draw(st.sampled_from(["", "{{ super() }}", "<i>{{ super() }}</i>"]))
        blocks.append(f"{{% block {name} %}}{sup}{_body(draw, sc, Namer(), 2)}{{% endblock %}}")
    main = "{% extends 'base' %}" + "".join(blocks)
    return "main", {"main": main, "part": part, "base": base}


env_options_st = st.fixed_dictionaries(
    {"trim_blocks": st.booleans(), "lstrip_blocks": st.booleans()},
    optional={"keep_trailing_newline": st.booleans(), "autoescape": st.booleans()},
)


# ---------------------------------------------------------------------------------------------
# Steps on one tracked list (``lt_engine.track``), as actions change it: tracked rows, plain
# dicts and lists appended (which it cannot see change), shared items, nested changes, and now
# and then a structural change. For the tests of ``TrackedList``'s bookkeeping and of the
# journal's deltas. Indices are taken modulo the current length.

_values = st.one_of(any_texts, st.integers(-3, 9), st.booleans(), floats, st.none())
_row_kinds = st.sampled_from(["plain", "plain", "nested", "tracked", "tracked", "list", "scalar",
                              "object"])
STRUCTURAL = frozenset({"insert", "pop", "reverse", "sort", "del", "slice"})

list_steps = st.lists(st.one_of(
    st.tuples(st.just("field"), st.integers(0, 99), st.sampled_from(["done", "title"]), _values),
    st.tuples(st.just("nested"), st.integers(0, 99), _values),
    st.tuples(st.just("set"), st.integers(0, 99), _row_kinds, _values),
    st.tuples(st.just("append"), _row_kinds, _values),
    st.tuples(st.just("again"), st.integers(0, 99)),  # the same object appended again
    st.tuples(st.just("share"), st.integers(0, 99)),  # held by the other list too
    st.tuples(st.just("other"), st.integers(0, 99), _values),  # changed through the other list
    st.tuples(st.sampled_from(sorted(STRUCTURAL)), st.integers(0, 99), _row_kinds),
), max_size=30)  # fewer appends than lt_engine.tracked.APPEND_LOG between structural changes


def list_row(kind: str, value: Any, track: Any, n: int) -> Any:
    if kind == "plain":
        return {"id": n, "title": value, "done": False}
    if kind == "nested":
        return {"id": n, "tags": [value], "meta": {"v": value}}
    if kind == "tracked":
        return track({"id": n, "title": value, "done": False, "tags": ["t"]})
    if kind == "list":
        return [n, value]
    if kind == "object":
        return track(DataRow(n, value, False, [value]))
    return value


def apply_list_step(rows: list[Any], other: list[Any], step: tuple[Any, ...], track: Any) -> bool:
    """Do ``step`` on ``rows`` (a tracked list; ``other`` another one); True when it was a
    structural change."""
    kind = step[0]
    n = len(rows)
    if kind == "append":
        rows.append(list_row(step[1], step[2], track, n))
        return False
    if kind in STRUCTURAL:
        if kind == "insert":
            rows.insert(step[1] % (n + 1), list_row(step[2], "ins", track, n))
        elif n == 0:
            return False
        elif kind == "pop":
            rows.pop(step[1] % n)
        elif kind == "reverse":
            rows.reverse()
        elif kind == "sort":
            rows.sort(key=lambda x: type(x).__name__)
        elif kind == "del":
            del rows[step[1] % n:]
        else:
            rows[step[1] % n:] = [list_row(step[2], "sl", track, n)]
        return True
    if kind == "other":
        if other:
            _change(other[step[1] % len(other)], "done", step[2])
        return False
    if n == 0:
        return False
    i = step[1] % n
    if kind == "field":
        _change(rows[i], step[2], step[3])
    elif kind == "nested":
        row = rows[i]
        if isinstance(row, dict):
            if isinstance(row.get("tags"), list):
                row["tags"].append(step[2])
            elif isinstance(row.get("meta"), dict):
                row["meta"]["v"] = step[2]
            else:
                row["tags"] = [step[2]]  # a plain list into a row: the row turns opaque
        elif isinstance(row, list):
            row.append(step[2])
        elif isinstance(row, DataRow):
            row.tags.append(step[2])
    elif kind == "set":
        rows[i] = list_row(step[2], step[3], track, i)
    elif kind == "again":
        rows.append(rows[i])
    elif kind == "share":
        other.append(rows[i])
    return False


def _change(row: Any, field: str, value: Any) -> None:
    if isinstance(row, dict):
        row[field] = value
    elif isinstance(row, list) and row:
        row[-1] = value
    elif isinstance(row, DataRow):
        setattr(row, field if field == "done" else "name", value)


def holds_twice(items: list[Any]) -> bool:
    """Whether ``items`` holds one mutable object at two places."""
    ids = [id(x) for x in items if isinstance(x, (list, dict, DataRow))]
    return len(set(ids)) != len(ids)
