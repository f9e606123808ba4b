"""Runtime helpers behave like jinja2's own (loop object, namespaces, unpacking, calls)."""

from __future__ import annotations

import jinja2
import pytest

import lt_engine
from lt_engine.runtime import Loop, nsset, unpack

oracle = jinja2.Environment(autoescape=True)
env = lt_engine.Environment()


@pytest.mark.parametrize(
    "source",
    [
        "{% for x in xs %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}"
        "{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.depth }}{{ loop.depth0 }};"
        "{% endfor %}",
        "{% for x in xs %}{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.changed(x) }};{% endfor %}",
        "{% for x in xs %}{{ loop }}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}",
    ],
)
def test_loop_matches_jinja2(source: str) -> None:
    data = {"xs": [1, 1, 2, 3]}
    assert env.from_string(source).render(data) == oracle.from_string(source).render(data)


def test_loop_errors() -> None:
    loop = Loop([1], jinja2.Undefined)
    with pytest.raises(TypeError, match="no items for cycling"):
        loop.cycle()
    with pytest.raises(TypeError, match="recursive"):
        loop([1])


def test_namespace_assignment_needs_a_namespace() -> None:
    with pytest.raises(jinja2.TemplateRuntimeError, match="non-namespace"):
        nsset({}, "x", 1)
    with pytest.raises(jinja2.TemplateRuntimeError, match="non-namespace"):
        env.from_string("{% set d = {} %}{% set d.x = 1 %}").render()


def test_unpack_messages_match_python() -> None:
    assert unpack([1, 2], 2) == (1, 2)
    with pytest.raises(ValueError, match="too many values to unpack"):
        unpack([1, 2, 3], 2)
    with pytest.raises(ValueError, match="not enough values to unpack"):
        unpack([1], 2)


def test_context_functions_see_the_page_data() -> None:
    @jinja2.pass_context
    def greet(ctx: jinja2.runtime.Context, who: str) -> str:
        return f"{ctx['greeting']}, {who}"

    local = lt_engine.Environment()
    local.globals["greet"] = greet
    assert local.from_string("{{ greet(name) }}").render(greeting="Hi", name="al") == "Hi, al"


def test_undefined_behaviour_follows_the_environment() -> None:
    strict = lt_engine.Environment(undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError, match="'nope' is undefined"):
        strict.from_string("{{ nope }}").render()
    assert env.from_string("[{{ nope }}][{{ d.missing }}]").render(d={}) == "[][]"
