"""Templates made of templates: inheritance, blocks, includes, macros and imports.

A mixin of the :class:`~lt_engine.compiler.Compiler`: ``{% extends %}`` is resolved at compile
time into the root template's body with each block replaced by its most derived override
(``{{ super() }}`` inlines the next one); ``{% include %}`` inlines the included template in the
current scope; macros and ``{% call %}`` bodies become render-only nodes called at run time;
imports bring another template's macros in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jinja2 import nodes

from .errors import CompileError
from .ir import Bind, Deps, ExprSlot, MacroDef

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .compiler import Compiler

    _Base = Compiler
else:
    _Base = object


class Composition(_Base):
    # -- inheritance

    def effective_body(self, ast: nodes.Template,
                       inherited: dict[str, list[nodes.Block]] | None = None) -> list[nodes.Node]:
        """The statements to render: a child's prelude plus its parent's body, each block
        resolved to its chain of overrides (most derived first, as ``super()`` walks it).

        ``{% extends %}`` inside a top-level ``{% if %}`` (or ``{% extends a if c else b %}``)
        becomes that if, each branch holding the parent it names: the page's structure is
        the chosen parent's, and switching parents is a branch switch like any other."""
        blocks = {name: list(chain) for name, chain in (inherited or {}).items()}
        for block in ast.find_all(nodes.Block):
            blocks.setdefault(block.name, []).append(block)
        name, filename = self.current
        site = next((i for i, child in enumerate(ast.body) if _extends_in(child)), None)
        allowed = set()
        if site is not None:
            child = ast.body[site]
            allowed = {id(child)} if isinstance(child, nodes.Extends) else {
                id(e) for body in _if_bodies(child) for e in body if isinstance(e, nodes.Extends)
            }
        for extends_node in ast.find_all(nodes.Extends):
            if id(extends_node) not in allowed:
                raise self.error(
                    extends_node,
                    "{% extends %} must be a top-level tag or directly inside a top-level"
                    " {% if %}: the page's structure comes from the parent it names",
                )
        if site is None:
            return [_Located(list(ast.body), name, filename, blocks)]
        before, after = list(ast.body[:site]), ast.body[site + 1:]
        # After extends, jinja2 still runs top-level assignments, imports and macros.
        kept = [child for child in after if isinstance(child, _KEEP_AFTER_EXTENDS)]
        child = ast.body[site]
        if isinstance(child, nodes.Extends) and isinstance(child.template, nodes.CondExpr):
            child = _extends_as_if(child)
        if isinstance(child, nodes.Extends):
            return [_Located(before + kept + self.parent_body(child, blocks), name, filename,
                             blocks)]

        def branch(body: list[nodes.Node]) -> list[nodes.Node]:
            at = next((i for i, n in enumerate(body) if isinstance(n, nodes.Extends)), None)
            if at is None:
                return body + list(after)
            own_kept = [n for n in body[at + 1:] if isinstance(n, _KEEP_AFTER_EXTENDS)]
            return body[:at] + own_kept + kept + self.parent_body(body[at], blocks)

        chosen = nodes.If(
            child.test, branch(child.body),
            [nodes.If(e.test, branch(e.body), [], [], lineno=e.lineno) for e in child.elif_],
            branch(child.else_), lineno=child.lineno,
        )
        return [_Located(before + [chosen], name, filename, blocks)]

    def parent_body(self, extends: nodes.Extends,
                    blocks: dict[str, list[nodes.Block]]) -> list[nodes.Node]:
        if not isinstance(extends.template, nodes.Const) or not isinstance(
            extends.template.value, str
        ):
            raise self.error(
                extends,
                "{% extends %} needs a constant template name (or an if/else over constant"
                " names): the page's static structure is the parent's, fixed at compile time",
            )
        parent, name, filename = self.load(extends.template.value, extends)
        previous = self.current
        self.current = (name, filename)
        try:
            return self.effective_body(parent, blocks)
        finally:
            self.current = previous

    # -- macros

    def macro_def(self, name: str, node: nodes.Macro | nodes.CallBlock) -> tuple[str, Deps]:
        level = self.scopes.push_level("macro")
        try:
            arg_regs, arg_names, defaults = [], [], []
            n_defaults = len(node.defaults)
            first_default = len(node.args) - n_defaults
            default_deps = Deps()
            for i, arg in enumerate(node.args):
                # a default sees the arguments before it, as in jinja2
                if i >= first_default:
                    code, deps = self.expr(node.defaults[i - first_default])
                    default_deps.add(deps)
                    defaults.append(code)
                else:
                    defaults.append(None)
                arg_regs.append(self.scopes.define(arg.name, "macroarg").reg)
                arg_names.append(arg.name)
            body_names = {n.name for n in _find_loads(node.body)}
            caller_reg = varargs_reg = kwargs_reg = -1
            if "caller" in body_names and "caller" not in arg_names:
                caller_reg = self.scopes.define("caller", "macroarg").reg
            if "varargs" in body_names:
                varargs_reg = self.scopes.define("varargs", "macroarg").reg
            if "kwargs" in body_names:
                kwargs_reg = self.scopes.define("kwargs", "macroarg").reg
            body = self.body_node(node.body)
        finally:
            self.scopes.pop()
        macro = MacroDef(
            name=name, level=level.index, frame_size=level.size, arg_regs=arg_regs,
            arg_names=arg_names, defaults=defaults, caller_reg=caller_reg,
            varargs_reg=varargs_reg, kwargs_reg=kwargs_reg, body=body,
            autoescape=self.autoescape,
        )
        self.macros.append(macro)
        deps = body.deps().outer(level.index)
        deps.add(default_deps.outer(level.index))
        return f"MK[{len(self.macros) - 1}](S)", deps

    def stmt_Macro(self, node: nodes.Macro) -> None:
        # Declared before its body is compiled: a macro may call itself (a comment tree).
        ref = self.scopes.declare(node.name)
        code, deps = self.macro_def(node.name, node)
        self.builder.program.append(Bind(ref.level, ref.reg, code, deps))
        ref.deps.add(deps)

    def stmt_CallBlock(self, node: nodes.CallBlock) -> None:
        caller_code, caller_deps = self.macro_def("caller", node)
        call = node.call
        code, deps = self.expr(call)
        deps.add(caller_deps)
        # append the caller keyword to the generated call(...)
        code = code[:-1] + f", caller={caller_code})"
        self.builder.slot(ExprSlot(f"str({code})", deps, False))

    # -- blocks, includes, imports

    def stmt_Block(self, node: nodes.Block) -> None:
        chain = self.blocks.get(node.name, [node])
        self.render_block(node.name, chain, 0, node.scoped)

    def render_block(self, name: str, chain: list[nodes.Block], index: int,
                     scoped: bool) -> None:
        block = chain[index]
        self.super_chain.append((name, index))
        self.scopes.push_layer(barrier=None if (scoped or block.scoped) else "block")
        try:
            self.statements(block.body)
        finally:
            self.scopes.pop()
            self.super_chain.pop()

    def self_block(self, name: str, node: nodes.Node) -> tuple[str, Deps]:
        """``self.name()``: the block rendered again, to a string (as jinja2's BlockReference:
        Markup when autoescaping)."""
        chain = self.blocks.get(name)
        if chain is None:
            raise self.error(node, f"self.{name}(): the template has no block named {name!r}")
        if name in self.self_blocks:
            raise self.error(node, f"self.{name}() inside block {name!r} would never end")
        self.self_blocks.add(name)
        outer = self.super_chain
        self.super_chain = []
        try:
            code, deps = self.render_node_with(
                lambda: self.render_block(name, chain, 0, chain[0].scoped)
            )
        finally:
            self.super_chain = outer
            self.self_blocks.discard(name)
        return (f"Markup({code})" if self.autoescape else code), deps

    def super_block(self, node: nodes.Call) -> None:
        if not self.super_chain:
            raise self.error(node, "super() outside of a block")
        name, index = self.super_chain[-1]
        chain = self.blocks[name]
        if index + 1 >= len(chain):
            # as jinja2: super() is an undefined there, and calling it raises UndefinedError
            message = f"there is no parent block called {name!r}."
            self.builder.slot(
                ExprSlot(f"R.undefined({message!r}, name='super')()", Deps(), self.autoescape)
            )
            return
        self.render_block(name, chain, index + 1, chain[index + 1].scoped)

    def template_names(self, node: nodes.Include | nodes.Import | nodes.FromImport) -> list[str]:
        value = node.template
        if isinstance(value, nodes.Const) and isinstance(value.value, str):
            return [value.value]
        if isinstance(value, (nodes.List, nodes.Tuple)) and all(
            isinstance(v, nodes.Const) and isinstance(v.value, str) for v in value.items
        ):
            return [v.value for v in value.items]  # type: ignore[attr-defined]
        raise self.error(node, "included or imported template names must be constant strings")

    def stmt_Include(self, node: nodes.Include) -> None:
        names = self.template_names(node)
        if self.env.loader is None:
            raise self.error(node, "cannot include templates: the environment has no loader")
        for template in names:
            try:
                ast, name, filename = self.load(template, node)
            except CompileError:
                continue
            break
        else:
            if node.ignore_missing:
                return
            raise self.error(node, f"included template {names[0]!r} not found")
        previous_blocks = self.blocks
        previous = self.current
        self.current = (name, filename)
        # An included template is compiled on its own, and renders in a fresh context.
        escaping = self.autoescape, self.explicit_autoescape
        own = self.default_autoescape(name)
        self.autoescape, self.explicit_autoescape = own, own
        self.scopes.push_layer(barrier=None if node.with_context else "globals")
        try:
            self.statements(self.effective_body(ast))
        finally:
            self.scopes.pop()
            self.current = previous
            self.blocks = previous_blocks
            self.autoescape, self.explicit_autoescape = escaping

    def imported_macros(self, node: nodes.Import | nodes.FromImport) -> dict[str, tuple[str, Deps]]:
        template = self.template_names(node)[0]
        ast, name, filename = self.load(template, node)
        previous = self.current
        self.current = (name, filename)
        escaping = self.autoescape, self.explicit_autoescape
        self.autoescape, self.explicit_autoescape = self.default_autoescape(name), None
        self.scopes.push_layer(barrier=None if node.with_context else "globals")
        found: dict[str, tuple[str, Deps]] = {}
        try:
            for child in ast.body:
                if isinstance(child, nodes.Macro):
                    code, deps = self.macro_def(child.name, child)
                    found[child.name] = (code, deps)
                    self.scopes.define(child.name, "bind", deps)
                    level = self.scopes.level
                    self.builder.program.append(Bind(level.index, level.size - 1, code, deps))
                    found[child.name] = (self.scopes.lookup(child.name).code, deps)
        finally:
            self.scopes.pop()
            self.current = previous
            self.autoescape, self.explicit_autoescape = escaping
        return found

    def stmt_FromImport(self, node: nodes.FromImport) -> None:
        found = self.imported_macros(node)
        for item in node.names:
            source, alias = item if isinstance(item, tuple) else (item, item)
            if source not in found:
                raise self.error(node, f"the template does not export {source!r}")
            code, deps = found[source]
            self.assign(nodes.Name(alias, "store", lineno=node.lineno), code, deps, node,
                        alias_source=nodes.Const(None))

    def stmt_Import(self, node: nodes.Import) -> None:
        found = self.imported_macros(node)
        deps = Deps()
        for _, d in found.values():
            deps.add(d)
        items = ", ".join(f"{k!r}: {code}" for k, (code, _) in found.items())
        self.assign(nodes.Name(node.target, "store", lineno=node.lineno),
                    f"module({{{items}}})", deps, node, alias_source=nodes.Const(None))

    def stmt_Extends(self, node: nodes.Extends) -> None:
        raise self.error(node, "{% extends %} must be a top-level tag")


class _Located:
    """Statements of one template (the root, an extended parent, an include), with the block
    chains they resolve blocks against."""

    def __init__(self, body: list[nodes.Node], name: str | None, filename: str | None,
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
