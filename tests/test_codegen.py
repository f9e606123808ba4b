"""The generated module: deterministic, loadable, and faithful for folded constants."""

from __future__ import annotations

import pytest

import lt_engine
from lt_engine.codegen import literal
from lt_engine.wire import key_attribute

SOURCE = "{% for t in todos %}<li data-key='{{ t.id }}'>{{ t.title|upper }}</li>{% endfor %}"


def test_same_template_same_bytes() -> None:
    one = lt_engine.Environment().compile_source(SOURCE, "t")
    two = lt_engine.Environment().compile_source(SOURCE, "t")
    assert one == two
    assert "SOURCE_HASH = '" in one and "FORMAT_VERSION = " in one


def test_module_source_loads_into_a_template() -> None:
    env = lt_engine.Environment()
    tpl = env.load_module_source(env.compile_source(SOURCE, "t"), "t")
    assert tpl.render(todos=[{"id": 1, "title": "a"}]) == "<li data-key='1'>A</li>"


@pytest.mark.parametrize(
    "value", [1.5, float("inf"), float("-inf"), (1,), [1, (2, 3)], {"a": [1.0]}, "x'\"", None]
)
def test_literal_round_trips(value: object) -> None:
    assert eval(literal(value), {"Markup": None}) == value


def test_nan_literal() -> None:
    value = eval(literal(float("nan")))
    assert value != value


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [('<li data-key="', '">', ("data-key", "", "")),
     ('<li id="', '" class="x">', ("id", "", "")),
     ('<li class="a" key="', '">', ("key", "", "")),
     ('<li data-lvt-key="', '">', ("data-lvt-key", "", "")),
     ("<li data-key='", "'>", ("data-key", "", "")),
     ('<li id="todo-', '">', ("id", "todo-", "")),
     ('<tr data-key="row-', '-x">', ("data-key", "row-", "-x")),
     ('<li data-id="', '">', None),  # not a key attribute
     ('<li id=', '>', None),  # unquoted
     ('<li id="a-', '-', None),  # a second slot follows in the same value
     ("<li id='", '">', None)],  # the quote does not close the value
)
def test_key_attributes(before: str, after: str, expected: tuple[str, str, str] | None) -> None:
    assert key_attribute(before, after) == expected


def test_repeated_expression_is_evaluated_once() -> None:
    src = '<a id="{{ x.id }}" href="/{{ x.id }}">{{ x.id }}</a>'
    module = lt_engine.Environment().compile_source(src)
    assert module.count("_core.ExprDesc(") == 3
    assert ", 0)" in module.split("_core.ExprDesc(1,")[1].split("\n")[0]
