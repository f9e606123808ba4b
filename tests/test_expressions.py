"""Expression code and the leaves it reads."""

from __future__ import annotations

import jinja2
import pytest

import lt_engine
from lt_engine.compile_state import CompileState
from lt_engine.expressions import ExprCompiler


def no_blocks(name: str, node: object) -> tuple[str, object]:
    raise AssertionError("no self.<block>() here")


def compile_expr(source: str, env: lt_engine.Environment | None = None
                 ) -> tuple[str, object, CompileState]:
    """The expression stage on its own: a compile state, one expression."""
    env = env or lt_engine.Environment()
    state = CompileState(env.jinja, "t", None)
    node = env.jinja.parse("{{ " + source + " }}").body[0].nodes[0]
    code, deps = ExprCompiler(state, no_blocks).compile(node)
    return code, deps, state


def leaf_paths(state: CompileState) -> list[tuple]:
    names = {ref.reg: name for name, ref in state.scopes.top_names.items()}
    return [(names[leaf.root], *(key for _, key in leaf.steps)) for leaf in state.scopes.top.leaves]


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
    _, deps, state = compile_expr(source)
    assert sorted(leaf_paths(state)) == sorted(paths)
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
    _, deps, state = compile_expr("x|ctx", env)
    assert deps.volatile and state.needs_context
