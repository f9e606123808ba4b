"""The generated module: deterministic, loadable, and faithful for folded constants."""

from __future__ import annotations

import ast
import builtins
import re

import pytest

import lt_engine
from lt_engine.codegen import literal
from lt_engine.runtime import BOUND_NAMES
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


# Templates that between them reach every helper generated code can call.
CORPUS = [
    SOURCE,
    "{{ a ~ b }}{{ x if y }}{{ n|sum }}{{ items|map(attribute='v')|join }}{{ range(3)|list }}",
    "{% autoescape false %}{{ f(x) }}{% endautoescape %}{% set s %}<b>{% endset %}{{ s }}",
    "{% set ns = namespace(a=1) %}{% set ns.a, b = 1, 2 %}{% set c, d = e %}{{ ns.a }}{{ b }}",
    "{% macro m(a, b=2) %}{{ a }}{{ caller() }}{{ varargs }}{{ kwargs }}{% endmacro %}"
    "{% call m(1) %}x{% endcall %}{{ m(1, 2, 3, k=4) }}",
    "{% for c in cs recursive %}{{ loop(c.kids) }}{% else %}-{% endfor %}"
    "{% for a, b in pairs if a %}{{ a }}{{ loop.cycle(1, 2) }}{% endfor %}",
    "{% filter upper %}{{ x }}{% endfilter %}{% if x %}{{ y|nosuch }}{% endif %}"
    "{{ lipsum(1) }}{{ 1.5 }}{{ (1, 2)|first }}",
]


def _loaded_names(module_source: str) -> set[str]:
    tree = ast.parse(module_source)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
              and isinstance(n.ctx, ast.Load)}
    params = {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
              for a in n.args.args}
    return loaded - params - set(dir(builtins))


@pytest.mark.parametrize("source", CORPUS)
def test_generated_code_uses_only_the_bound_names(source: str) -> None:
    env = lt_engine.Environment(finalize=lambda v: v)
    env.filters["upper"] = str.upper
    module = env.compile_source(source, "t")
    generated = re.compile(r"(f|N|FD|RE)\d+$")
    unknown = {name for name in _loaded_names(module)
               if name not in BOUND_NAMES and not generated.match(name)}
    assert unknown == set()
    env.load_module_source(module, "t")  # and every binding resolves
