"""Templates made of templates, resolved before any statement is compiled.

The inheritance stage of the compiler: ``{% extends %}`` is resolved into the root template's
body, each block knowing its chain of overrides (most derived first: ``{{ super() }}`` walks
it); an extends inside a top-level ``{% if %}`` becomes that if, one parent per branch.  The
result is a list of :class:`_Located` statement lists, each tagged with the template it comes
from (for error messages) and the block chains it resolves blocks against.  Includes, macros
and imports are compiled where they stand, by :class:`~lt_engine.compiler.Compiler`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from jinja2 import nodes

from .compile_state import CompileState

# What a body holds once extends and includes are resolved: jinja2's statements, and the bodies
# of other templates (a parent, an include) with where they come from.
Statement: TypeAlias = "nodes.Node | _Located"


def effective_body(state: CompileState, ast: nodes.Template,
                   inherited: dict[str, list[nodes.Block]] | None = None) -> list[Statement]:
    """The statements to render: a child's prelude plus its parent's body, each block
    resolved to its chain of overrides (most derived first, as ``super()`` walks it).

    ``{% extends %}`` inside a top-level ``{% if %}`` (or ``{% extends a if c else b %}``)
    becomes that if, each branch holding the parent it names: the page's structure is
    the chosen parent's, and switching parents is a branch switch like any other."""
    blocks = {name: list(chain) for name, chain in (inherited or {}).items()}
    for block in ast.find_all(nodes.Block):
        blocks.setdefault(block.name, []).append(block)
    name, filename = state.current
    site = next((i for i, child in enumerate(ast.body) if _extends_in(child)), None)
    allowed = set()
    if site is not None:
        child = ast.body[site]
        if isinstance(child, nodes.Extends):
            allowed = {id(child)}
        else:
            assert isinstance(child, nodes.If)  # what _extends_in found
            allowed = {id(e) for body in _if_bodies(child) for e in body
                       if isinstance(e, nodes.Extends)}
    for extends_node in ast.find_all(nodes.Extends):
        if id(extends_node) not in allowed:
            raise state.error(
                extends_node,
                "{% extends %} must be a top-level tag or directly inside a top-level"
                " {% if %}: the page's structure comes from the parent it names",
            )
    if site is None:
        whole: list[Statement] = list(ast.body)
        return [_Located(whole, name, filename, blocks)]
    before: list[Statement] = list(ast.body[:site])
    after = ast.body[site + 1:]
    # After extends, jinja2 still runs top-level assignments, imports and macros.
    kept: list[Statement] = [child for child in after if isinstance(child, _KEEP_AFTER_EXTENDS)]
    child = ast.body[site]
    if isinstance(child, nodes.Extends) and isinstance(child.template, nodes.CondExpr):
        child = _extends_as_if(child)
    if isinstance(child, nodes.Extends):
        return [_Located(before + kept + parent_body(state, child, blocks), name, filename,
                         blocks)]

    def branch(body: list[nodes.Node]) -> list[Statement]:
        at = next((i for i, n in enumerate(body) if isinstance(n, nodes.Extends)), None)
        if at is None:
            return [*body, *after]
        own_kept = [n for n in body[at + 1:] if isinstance(n, _KEEP_AFTER_EXTENDS)]
        extends = body[at]
        assert isinstance(extends, nodes.Extends)
        return [*body[:at], *own_kept, *kept, *parent_body(state, extends, blocks)]

    assert isinstance(child, nodes.If)  # an extends inside a top-level if

    chosen = nodes.If(
        child.test, branch(child.body),
        [nodes.If(e.test, branch(e.body), [], [], lineno=e.lineno) for e in child.elif_],
        branch(child.else_), lineno=child.lineno,
    )
    return [_Located(before + [chosen], name, filename, blocks)]


def parent_body(state: CompileState, extends: nodes.Extends,
                blocks: dict[str, list[nodes.Block]]) -> list[Statement]:
    if not isinstance(extends.template, nodes.Const) or not isinstance(
        extends.template.value, str
    ):
        raise state.error(
            extends,
            "{% extends %} needs a constant template name (or an if/else over constant"
            " names): the page's static structure is the parent's, fixed at compile time",
        )
    parent, name, filename = state.load(extends.template.value, extends)
    previous = state.current
    state.current = (name, filename)
    try:
        return effective_body(state, parent, blocks)
    finally:
        state.current = previous


def template_names(state: CompileState, node: nodes.Include | nodes.Import | nodes.FromImport) -> list[str]:
    value = node.template
    if isinstance(value, nodes.Const) and isinstance(value.value, str):
        return [value.value]
    if isinstance(value, (nodes.List, nodes.Tuple)) and all(
        isinstance(v, nodes.Const) and isinstance(v.value, str) for v in value.items
    ):
        return [v.value for v in value.items]  # type: ignore[attr-defined]
    raise state.error(node, "included or imported template names must be constant strings")


class _Located:
    """Statements of one template (the root, an extended parent, an include), with the block
    chains they resolve blocks against."""

    def __init__(self, body: list[Statement], name: str | None, filename: str | None,
                 blocks: dict[str, list[nodes.Block]]) -> None:
        self.body = body
        self.name = name
        self.filename = filename
        self.blocks = blocks
        self.lineno = 0


_KEEP_AFTER_EXTENDS = (nodes.Assign, nodes.AssignBlock, nodes.Macro, nodes.Import,
                       nodes.FromImport)


def _if_bodies(node: nodes.If) -> list[list[nodes.Node]]:
    return [node.body, *(e.body for e in node.elif_), node.else_]


def _extends_in(node: nodes.Node) -> bool:
    """A top-level extends, or an if with an extends directly in one of its branches."""
    if isinstance(node, nodes.Extends):
        return True
    return isinstance(node, nodes.If) and any(
        isinstance(child, nodes.Extends) for body in _if_bodies(node) for child in body
    )


def _extends_as_if(node: nodes.Extends) -> nodes.If:
    """``{% extends a if c else b %}`` as ``{% if c %}{% extends a %}{% else %}…``."""
    cond = node.template
    assert isinstance(cond, nodes.CondExpr)
    other = cond.expr2 if cond.expr2 is not None else nodes.Const(None)
    return nodes.If(
        cond.test, [nodes.Extends(cond.expr1, lineno=node.lineno)], [],
        [nodes.Extends(other, lineno=node.lineno)], lineno=node.lineno,
    )


def _find_loads(body: list[nodes.Node]) -> Iterable[nodes.Name]:
    for node in body:
        yield from (n for n in node.find_all(nodes.Name) if n.ctx == "load")
