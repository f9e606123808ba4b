"""Jinja2 template AST -> slot-tree IR.

The template is parsed by jinja2 itself (``Environment.parse``); this module walks the resulting
statement nodes.  Output text becomes statics, ``{{ … }}`` becomes an expression slot, ``{% if %}``
a branch slot, ``{% for %}`` a range slot (plus an else slot).  ``{% with %}`` is inlined, and so
are includes and blocks (see :mod:`lt_engine.composition`), so their content is as live as the
rest; macros, ``{% call %}``, ``{% filter %}`` and block ``{% set %}`` render to one string.  Anything
that cannot be made live exactly as jinja2 renders it is a :class:`~lt_engine.errors.CompileError`
naming the template, line and construct.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer
from jinja2.utils import _PassArg
from markupsafe import escape

from .composition import Composition, _Located
from .errors import CompileError
from .expressions import ExprCompiler
from .ir import (
    Bind,
    Deps,
    Effect,
    ElseSlot,
    ExprSlot,
    ForSlot,
    IfSlot,
    MacroDef,
    Node,
    NodeBuilder,
    TemplateIR,
)
from .runtime import source_hash
from .scope import Ref, Scopes

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

_builtin_env = jinja2.Environment()
BUILTIN_FILTERS = frozenset(_builtin_env.filters)


class Compiler(Composition):
    def __init__(self, jenv: jinja2.Environment, name: str | None,
                 filename: str | None) -> None:
        self.env = jenv
        self.name = name
        self.filename = filename
        self.scopes = Scopes()
        self.exprs = ExprCompiler(self)
        self.autoescape = self.default_autoescape(name)
        self.explicit_autoescape: bool | None = None  # inside {% autoescape %}: its value
        self.needs_context = False
        self.builtin_filters = BUILTIN_FILTERS
        self.consts: list[Any] = []
        self.macros: list[MacroDef] = []
        self.render_nodes: list[Node] = []
        self.filter_block_value = ""
        self.blocks: dict[str, list[nodes.Block]] = {}
        self.super_chain: list[tuple[str, int]] = []
        self.builder = NodeBuilder()
        self.node_ids = 0
        self.sources: dict[str, str] = {}
        self.current = (name, filename)
        self.in_if_test = False
        self.self_blocks: set[str] = set()  # blocks being compiled for self.<block>()
        self.recursive_loops = 0

    # -- helpers used by ExprCompiler

    def default_autoescape(self, name: str | None) -> bool:
        """The environment's autoescape setting for template ``name`` (a bool or a function)."""
        return EvalContext(self.env, name).autoescape

    def error(self, node: nodes.Node | None, message: str) -> CompileError:
        lineno = getattr(node, "lineno", 0) or 0
        name, filename = self.current
        return CompileError(message, lineno, name, filename)

    def eval_ctx_code(self) -> str:
        """The eval context callees get: jinja2's is dynamic, set by enclosing autoescape blocks."""
        if self.explicit_autoescape is None:
            return "R.current_ec"
        return "EC" if self.explicit_autoescape else "ECN"

    def eval_context(self) -> EvalContext:
        ctx = EvalContext(self.env, self.current[0])
        ctx.autoescape = self.autoescape
        return ctx

    def optimize(self, node: nodes.Expr) -> nodes.Expr:
        """Constant-fold as jinja2's code generator does: its folding changes some results."""
        if not self.env.optimized:
            return node
        return Optimizer(self.env).visit(node, self.eval_context())

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def expr(self, node: nodes.Expr) -> tuple[str, Deps]:
        return self.exprs.compile(node)

    def conditional(self) -> bool:
        """Compiling the tests or a branch of an {% if %} (see ``unknown`` in the runtime)."""
        return self.in_if_test or self.scopes.layers[-1].conditional

    def lookup(self, name: str, node: nodes.Node) -> Ref:
        return self.scopes.lookup(name)

    # -- entry point

    def compile(self, source: str) -> TemplateIR:
        ast = self.parse(source, self.name, self.filename)
        body = self.effective_body(ast)
        self.builder = self.root_builder = NodeBuilder()
        self.statements(body)
        root = self.finish(self.builder)
        digest = hashlib.sha256()
        for key in sorted(self.sources):
            digest.update(key.encode() + b"\0" + self.sources[key].encode() + b"\0")
        return TemplateIR(
            name=self.name or "<template>",
            root=root,
            top_regs={ref.name: ref.reg for ref in self.scopes.top_names.values()},
            top_frame_size=self.scopes.top.size,
            leaves=self.scopes.top.leaves,
            macros=self.macros,
            render_nodes=self.render_nodes,
            consts=self.consts,
            needs_context=self.needs_context,
            source_hash=digest.hexdigest(),
            dependencies={key: source_hash(text) for key, text in self.sources.items()},
        )

    def parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        self.sources[name or "<string>"] = source
        return self.env.parse(source, name, filename)

    def load(self, template: str, node: nodes.Node) -> tuple[nodes.Template, str, str | None]:
        loader = self.env.loader
        if loader is None:
            raise self.error(node, f"cannot load {template!r}: the environment has no loader")
        try:
            source, filename, _ = loader.get_source(self.env, template)
        except jinja2.TemplateNotFound as exc:
            raise self.error(node, f"template {template!r} not found") from exc
        previous = self.current
        self.current = (template, filename)
        try:
            return self.parse(source, template, filename), template, filename
        finally:
            self.current = previous

    def body_node(self, body: Iterable[nodes.Node]) -> Node:
        """Compile statements into a node of their own (a branch, loop or macro body)."""
        outer = self.builder
        self.builder = NodeBuilder()
        try:
            self.statements(body)
            return self.finish(self.builder)
        finally:
            self.builder = outer

    def finish(self, builder: NodeBuilder) -> Node:
        self.node_ids += 1
        return builder.build(self.node_ids)

    # -- statements

    def statements(self, body: Iterable[nodes.Node]) -> None:
        for node in body:
            if isinstance(node, _Located):
                previous, previous_blocks = self.current, self.blocks
                self.current, self.blocks = (node.name, node.filename), node.blocks
                try:
                    self.statements(node.body)
                finally:
                    self.current, self.blocks = previous, previous_blocks
                continue
            method = getattr(self, "stmt_" + type(node).__name__, None)
            if method is None:
                raise self.error(node, f"{{% {type(node).__name__.lower()} %}} is not supported")
            method(node)

    def stmt_Output(self, node: nodes.Output) -> None:
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                self.builder.text(child.data)
                continue
            text = self.const_output(child)
            if text is not None:
                self.builder.text(text)
            elif (
                isinstance(child, nodes.Call)
                and isinstance(child.node, nodes.Name)
                and child.node.name == "super"
                and not child.args and not child.kwargs
            ):
                self.super_block(child)
            else:
                code, deps = self.expr(child)
                code = self.finalize(code, deps)
                self.builder.slot(ExprSlot(code, deps, self.autoescape))

    def const_output(self, child: nodes.Expr) -> str | None:
        """The text of an output expression jinja2 folds at compile time, else None."""
        finalize = self.env.finalize
        if finalize is not None and _PassArg.from_obj(finalize) in (
            _PassArg.context, _PassArg.eval_context
        ):
            return None
        try:
            value = child.as_const(self.eval_context())
            if self.autoescape:
                value = escape(value)
            if finalize is None:
                return str(value)
            if _PassArg.from_obj(finalize) is _PassArg.environment:
                return str(finalize(self.env, value))
            return str(finalize(value))
        except Exception:
            return None

    def finalize(self, code: str, deps: Deps) -> str:
        finalize = self.env.finalize
        if finalize is None:
            return code
        prefix = self.exprs._pass_arg(finalize, "finalize", deps)
        return f"FIN({prefix}{code})"

    def stmt_If(self, node: nodes.If) -> None:
        tests: list[str] = []
        tests_deps = Deps()
        branches: list[Node] = []
        clauses = [(node.test, node.body)] + [(e.test, e.body) for e in node.elif_]
        bodies = [body for _, body in clauses] + ([node.else_] if node.else_ else [])
        # A name set in a branch is read after the if with the value of the branch taken (or
        # its value before): every branch writes one register, set to that value first.
        phi: dict[str, int] = {}
        after = Deps()
        level = self.scopes.level
        outer_phi = self.scopes.layers[-1].phi or {}
        for name in _branch_stores(bodies):
            prior = self.scopes.lookup(name)
            after.add(self.scopes.path_deps(prior, ()))
            if name in outer_phi:
                phi[name] = outer_phi[name]
            elif prior.kind == "bind" and prior.level == level.index:
                phi[name] = prior.reg
            else:
                phi[name] = level.alloc()
                code = f"G({name!r})" if prior.kind == "global" else prior.code
                self.builder.program.append(
                    Bind(level.index, phi[name], code, self.scopes.path_deps(prior, ()))
                )
        for test, body in clauses:
            self.in_if_test = True
            try:
                code, deps = self.expr(test)
            finally:
                self.in_if_test = False
            tests.append(code)
            tests_deps.add(deps)
            branches.append(self.branch(body, phi))
        if node.else_:
            branches.append(self.branch(node.else_, phi))
        self.builder.slot(IfSlot(tests, tests_deps, branches, assigns=bool(phi)))
        after.add(tests_deps)
        for branch in branches:
            after.add(branch.deps())
        for name, reg in phi.items():
            self.scopes.layers[-1].names[name] = Ref("bind", level.index, reg, name, after)

    def branch(self, body: list[nodes.Node], phi: dict[str, int] | None = None) -> Node:
        self.scopes.push_layer(phi=phi, conditional=phi is not None)
        try:
            return self.body_node(body)
        finally:
            self.scopes.pop()

    def stmt_For(self, node: nodes.For) -> None:
        iter_code, iter_deps = self.expr(node.iter)
        recursive_deps = self.recursive_reads(node) if node.recursive else Deps()
        level = self.scopes.push_level("loop")
        if node.recursive:
            self.recursive_loops += 1
            level.recursive_id = self.recursive_loops
            level.recursive_deps = recursive_deps
        try:
            target_code, target_reg = self.target(node.target, level.index)
            loop_ref = self.scopes.define("loop", "loop")
            filter_code = None
            if node.test is not None:
                filter_code, filter_deps = self.expr(node.test)
                iter_deps.add(filter_deps.outer(level.index))
                if filter_deps.volatile:
                    level.sequential = True
            body = self.body_node(node.body)
        finally:
            self.scopes.pop()
        slot = ForSlot(
            level=level.index,
            iter_code=iter_code,
            iter_deps=iter_deps,
            target=target_code,
            filter_code=filter_code,
            frame_size=level.size,
            loop_reg=loop_ref.reg if level.uses_loop else -1,
            body=body,
            leaves=level.leaves,
            sequential=level.sequential or body.deps().volatile,
            target_reg=target_reg,
            recursive_id=level.recursive_id,
        )
        # A range directly in a slot of the root node is wrapped in a node of its own
        # ({"s": ["", ""], "0": range}, docs/protocol.md): LiveTemplate's JS client applies
        # range ops to the page's DOM directly there, which mis-patches an element that also
        # holds other content.  The wrapper is a branch that is always taken.
        outer = self.builder
        if outer is self.root_builder:
            self.builder = NodeBuilder()
        try:
            self.builder.slot(slot)
            if node.else_:
                self.builder.slot(ElseSlot(self.branch(node.else_)))
            if outer is not self.builder:
                outer.slot(IfSlot(["True"], Deps(), [self.finish(self.builder)]))
        finally:
            self.builder = outer

    def recursive_reads(self, node: nodes.For) -> Deps:
        """What rendering a recursive loop again (``loop(…)``) reads outside the loop: every
        name its body, filter and else read, as a whole (the nested items are not leaves)."""
        own = {n.name for n in node.target.find_all(nodes.Name)}
        if isinstance(node.target, nodes.Name):
            own.add(node.target.name)
        own.add("loop")
        deps = Deps()
        parts = [*node.body, *node.else_] + ([node.test] if node.test is not None else [])
        names = {n.name for part in parts for n in part.find_all(nodes.Name) if n.ctx == "load"}
        for name in sorted(names - own):
            deps.add(self.scopes.path_deps(self.scopes.lookup(name), ()))
        return deps

    def target(self, target: nodes.Node, level: int) -> tuple[str, int]:
        """Define loop target names; returns (python assignment of ``it`` into ``F``, reg)."""
        if isinstance(target, nodes.Name):
            ref = self.scopes.define(target.name, "var")
            return f"F[{ref.reg}] = it", ref.reg

        def pattern(t: nodes.Node) -> str:
            if isinstance(t, nodes.Name):
                return f"F[{self.scopes.define(t.name, 'var').reg}]"
            if isinstance(t, nodes.Tuple):
                return "(" + "".join(pattern(item) + ", " for item in t.items) + ")"
            raise self.error(t, "unsupported loop target")

        return f"{pattern(target)} = it", -1

    def stmt_Assign(self, node: nodes.Assign) -> None:
        code, deps = self.expr(node.node)
        self.assign(node.target, code, deps, node)

    def assign(self, target: nodes.Node, code: str, deps: Deps, node: nodes.Node,
               alias_source: nodes.Node | None = None) -> None:
        if isinstance(target, nodes.NSRef):
            ref = self.lookup(target.name, node)
            self.builder.program.append(
                Effect(f"nsset({ref.code}, {target.attr!r}, {code})")
            )
            for level in self.scopes.levels:
                level.sequential = True
            return
        if isinstance(target, nodes.Name):
            alias = None
            source = alias_source if alias_source is not None else getattr(node, "node", None)
            if source is not None:
                path = self.exprs._path(source)
                if path is not None:
                    base = self.lookup(path[0].name, node)
                    if base.kind in ("top", "var"):
                        alias = (base, path[1])
            ref = self.scopes.declare(target.name)
            self.builder.program.append(Bind(ref.level, ref.reg, code, deps))
            ref.deps.add(deps)
            ref.alias = alias
            return
        if isinstance(target, nodes.Tuple):
            level = self.scopes.level
            tmp = level.alloc()
            self.builder.program.append(
                Bind(level.index, tmp, f"unpack({code}, {len(target.items)})", deps)
            )
            for i, item in enumerate(target.items):
                if isinstance(item, nodes.NSRef):
                    self.assign(item, f"S[{level.index}][{tmp}][{i}]", deps, node)
                    continue
                if not isinstance(item, nodes.Name):
                    raise self.error(item, "only names can be unpacked in {% set %}")
                ref = self.scopes.declare(item.name)
                self.builder.program.append(
                    Bind(level.index, ref.reg, f"S[{level.index}][{tmp}][{i}]", deps)
                )
                ref.deps.add(deps)
            return
        raise self.error(node, "unsupported assignment target")

    def render_node(self, body: list[nodes.Node]) -> tuple[str, Deps]:
        """Compile ``body`` as a render-only node; returns code rendering it to a str."""
        return self.render_node_with(lambda: self.statements(body))

    def render_node_with(self, compile_body: Callable[[], None]) -> tuple[str, Deps]:
        """A render-only node of what ``compile_body`` compiles; code rendering it to a str."""
        self.scopes.push_layer()
        outer = self.builder
        self.builder = NodeBuilder()
        try:
            compile_body()
            node = self.finish(self.builder)
        finally:
            self.builder = outer
            self.scopes.pop()
        self.render_nodes.append(node)
        return f"render(RN[{len(self.render_nodes) - 1}], S)", node.deps()

    def stmt_AssignBlock(self, node: nodes.AssignBlock) -> None:
        code, deps = self.render_node(node.body)
        # jinja2 marks the captured string safe by the (dynamic) eval context
        ec = self.eval_ctx_code()
        if node.filter is not None:
            self.filter_block_value = f"Markup({code})" if self.autoescape else code
            code, fdeps = self.expr(node.filter)
            deps.add(fdeps)
        self.assign(node.target, f"markif({ec}, {code})", deps, node)

    def stmt_FilterBlock(self, node: nodes.FilterBlock) -> None:
        code, deps = self.render_node(node.body)
        self.filter_block_value = f"Markup({code})" if self.autoescape else code
        fcode, fdeps = self.expr(node.filter)
        deps.add(fdeps)
        self.builder.slot(ExprSlot(f"str({fcode})", deps, False))

    def stmt_With(self, node: nodes.With) -> None:
        values = [self.expr(value) for value in node.values]
        self.scopes.push_layer()
        try:
            for target, (code, deps), value in zip(node.targets, values, node.values, strict=False):
                self.assign(target, code, deps, node, alias_source=value)
            self.statements(node.body)
        finally:
            self.scopes.pop()

    def stmt_Scope(self, node: nodes.Scope) -> None:
        self.scopes.push_layer()
        try:
            self.statements(node.body)
        finally:
            self.scopes.pop()

    def stmt_ScopedEvalContextModifier(self, node: nodes.ScopedEvalContextModifier) -> None:
        previous = self.autoescape, self.explicit_autoescape
        self.eval_modifier(node)
        try:
            self.stmt_Scope(node)  # type: ignore[arg-type]
        finally:
            self.autoescape, self.explicit_autoescape = previous

    def stmt_EvalContextModifier(self, node: nodes.EvalContextModifier) -> None:
        self.eval_modifier(node)

    def eval_modifier(self, node: nodes.EvalContextModifier) -> None:
        for keyword in node.options:
            if keyword.key != "autoescape":
                raise self.error(node, f"eval context option {keyword.key!r} is not supported")
            if not isinstance(keyword.value, nodes.Const):
                raise self.error(node, "{% autoescape %} needs a constant true or false")
            self.autoescape = self.explicit_autoescape = bool(keyword.value.value)

def compile_ir(jenv: jinja2.Environment, source: str, name: str | None = None,
               filename: str | None = None) -> TemplateIR:
    return Compiler(jenv, name, filename).compile(source)


def _branch_stores(bodies: list[list[nodes.Node]]) -> list[str]:
    """The names an {% if %} branch sets that stay visible after the if (jinja2's rules)."""
    found: dict[str, None] = {}

    def visit(body: list[nodes.Node]) -> None:
        for node in body:
            if isinstance(node, (nodes.Assign, nodes.AssignBlock)):
                for name in node.target.find_all(nodes.Name):
                    found.setdefault(name.name)
                if isinstance(node.target, nodes.Name):
                    found.setdefault(node.target.name)
            elif isinstance(node, nodes.Macro):
                found.setdefault(node.name)
            elif isinstance(node, nodes.Import):
                found.setdefault(node.target)
            elif isinstance(node, nodes.FromImport):
                for item in node.names:
                    found.setdefault(item[1] if isinstance(item, tuple) else item)
            elif isinstance(node, nodes.If):
                visit(node.body)
                for elif_ in node.elif_:
                    visit(elif_.body)
                visit(node.else_)

    for body in bodies:
        visit(body)
    return list(found)
