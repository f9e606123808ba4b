"""Expression code and the leaves it reads."""

from __future__ import annotations

import jinja2
import pytest

import lt_engine
from lt_engine.compiler import Compiler


def compile_expr(source: str) -> tuple[str, object, Compiler]:
    env = lt_engine.Environment()
    compiler = Compiler(env.jinja, "t", None)
    node = env.jinja.parse("{{ " + source + " }}").body[0].nodes[0]
    code, deps = compiler.expr(node)
    return code, deps, compiler


def leaf_paths(compiler: Compiler) -> list[tuple]:
    names = {ref.reg: name for name, ref in compiler.scopes.top_names.items()}
    return [(names[leaf.root], *(key for _, key in leaf.steps)) for leaf in compiler.scopes.top.leaves]


@pytest.mark.parametrize(
    ("source", "paths"),
    [
        ("user.name", [("user", "name")]),
        ("user['name'] ~ rows[0]", [("user", "name"), ("rows", 0)]),
        ("items|length", [("items",)]),
        ("prices[sel]", [("prices",), ("sel",)]),
        ("user.name.upper()", [("user", "name")]),
        ("a if b else c.d", [("b",), ("a",), ("c", "d")]),
    ],
)
def test_leaves_of_expressions(source: str, paths: list[tuple]) -> None:
    _, deps, compiler = compile_expr(source)
    assert sorted(leaf_paths(compiler)) == sorted(paths)
    assert not deps.volatile


@pytest.mark.parametrize("source", ["xs|random", "namespace(a=1)", "lipsum()", "cycler(1, 2)"])
def test_impure_builtins_are_volatile(source: str) -> None:
    _, deps, _ = compile_expr(source)
    assert deps.volatile


def test_dict_attribute_names_use_jinja2s_getattr() -> None:
    code, _, _ = compile_expr("d.items")
    assert code.startswith("ga(")
    code, _, _ = compile_expr("d.title")
    assert code.startswith("gad(")


def test_user_filter_taking_the_context_is_volatile() -> None:
    env = lt_engine.Environment()
    env.filters["ctx"] = jinja2.pass_context(lambda ctx, v: v)
    compiler = Compiler(env.jinja, "t", None)
    _, deps = compiler.expr(env.jinja.parse("{{ x|ctx }}").body[0].nodes[0])
    assert deps.volatile and compiler.needs_context
