"""Jinja2 template AST -> slot-tree IR: the statement stage of the compiler.

How the compiler works
----------------------
One pipeline, as Jinja2's own (lexer -> parser -> nodes -> idtracking -> codegen -> runtime),
each stage in its own file, one template followed through it::

    <h1>{{ title }}</h1><ul>{% for t in todos %}<li id="{{ t.id }}">{{ t.title|upper }}</li>{% endfor %}</ul>

1. **Parse** (jinja2's ``Environment.parse``, via :class:`~lt_engine.compile_state.CompileState`,
   which also records every source read): jinja2's own AST, never a hand-written lexer.
2. **Inheritance** (:mod:`lt_engine.composition`): ``{% extends %}`` is resolved into the root
   template's statements, each block with its chain of overrides; here there is none, so the
   body comes back as one located statement list.
3. **Statements** (this module, :class:`Compiler`): output text becomes statics, ``{{ }}`` an
   expression slot, ``{% if %}`` a branch slot, ``{% for %}`` a range slot.  The root node gets
   statics ``['<h1>', '</h1><ul>', '</ul>']``; the loop, being at the top level, sits in a
   node of its own (``docs/protocol.md`` rule 3a) whose body has statics
   ``['<li id="', '">', '</li>']``.  ``{% with %}``, includes and blocks are inlined, so their
   content is as live as the rest; macros, ``{% call %}``, ``{% filter %}``, block ``{% set %}``,
   ``self.block()`` and the nested levels of a recursive loop render to one string slot.
4. **Names and leaves** (:mod:`lt_engine.scope`, the idtracking of this pipeline): ``title`` and
   ``todos`` get registers 1 and 2 of the top frame; ``t`` register 0 of the loop's frame.  Each
   data path read becomes a *leaf* of its scope: ``title`` and ``todos`` at the top, ``t.id``
   and ``t.title`` in the loop.
5. **Expressions** (:mod:`lt_engine.expressions`): ``t.title|upper`` becomes
   ``F['upper'](gad(S[1][0], 'title'))`` with deps ``{1: 0b10}`` (leaf 1 of level 1); the slot
   is re-evaluated only when that leaf changes.
6. **IR** (:mod:`lt_engine.ir`): the result, complete — nodes, slots, leaves, macros,
   constants, the hashes of the sources (:class:`~lt_engine.ir.TemplateIR`).
7. **Code generation** (:mod:`lt_engine.codegen`): a Python module whose ``build(env, R)`` binds
   the names of :data:`lt_engine.runtime.BOUND_NAMES`, defines one function per slot
   (``def f4(S): return F['upper'](gad(S[1][0], 'title'))``) and returns the descriptors
   (``_core.NodeDesc``, ``_core.ForDesc(index=0, level=1, …, key_slot=0, …)``, declared in
   ``_core.pyi``).  Executed in memory by :class:`~lt_engine.Environment`, or written to disk
   by ``livetemplate compile`` (:mod:`lt_engine.precompiled`).
8. **Runtime** (:mod:`lt_engine.runtime`, ``_core.pyx``): the helpers the functions call, and
   the Cython core that renders, mounts and diffs the descriptor tree: mounted with one todo,
   the tree is ``{"s": ["<h1>", "</h1><ul>", "</ul>"], "0": "T", "1": {"s": ["", ""],
   "0": {"s": ['<li id="', '">', '</li>'], "d": [{"0": "1", "1": "A"}], "m": {"idKey": "0"}}}}``.

Anything that cannot be made live exactly as jinja2 renders it is a
:class:`~lt_engine.errors.CompileError` naming the template, line and construct, and why.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import jinja2
from jinja2 import nodes
from jinja2.utils import _PassArg
from markupsafe import escape

from .codegen import ModuleWriter
from .compile_state import CompileState
from .components import GLOBAL_NAME as COMPONENT_GLOBAL
from .components import render_component
from .composition import Statement, _find_loads, _Located, effective_body, template_names
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
from .scope import Ref
from .streams import GLOBAL_NAME as STREAM_GLOBAL
from .streams import stream_items

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable



class Compiler:
    """Walks a template's statements into the IR (see the module docstring)."""

    def __init__(self, jenv: jinja2.Environment, name: str | None,
                 filename: str | None) -> None:
        self.state = CompileState(jenv, name, filename)
        self.exprs = ExprCompiler(self.state, self.self_block)
        self.macros: list[MacroDef] = []
        self.render_nodes: list[Node] = []
        self.blocks: dict[str, list[nodes.Block]] = {}  # of the template being compiled
        self.super_chain: list[tuple[str, int]] = []  # blocks being compiled: super() goes up
        self.self_blocks: set[str] = set()  # blocks being compiled for self.<block>()
        self.builder = self.root_builder = NodeBuilder()
        self.node_ids = 0
        self.recursive_loops = 0

    def expr(self, node: nodes.Node, block_value: str | None = None) -> tuple[str, Deps]:
        return self.exprs.compile(node, block_value)

    # -- entry point

    def compile(self, source: str) -> TemplateIR:
        state = self.state
        ast = state.parse(source, state.name, state.current[1])
        self.statements(effective_body(state, ast))
        root = self.finish(self.builder)
        digest = hashlib.sha256()
        for key in sorted(state.sources):
            digest.update(key.encode() + b"\0" + state.sources[key].encode() + b"\0")
        return TemplateIR(
            name=state.name or "<template>",
            root=root,
            top_regs={ref.name: ref.reg for ref in state.scopes.top_names.values()},
            top_frame_size=state.scopes.top.size,
            leaves=state.scopes.top.leaves,
            macros=self.macros,
            render_nodes=self.render_nodes,
            consts=state.consts,
            needs_context=state.needs_context,
            source_hash=digest.hexdigest(),
            dependencies={key: source_hash(text) for key, text in state.sources.items()},
        )

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

    def statements(self, body: Iterable[Statement]) -> None:
        for node in body:
            if isinstance(node, _Located):
                previous, previous_blocks = self.state.current, self.blocks
                self.state.current, self.blocks = (node.name, node.filename), node.blocks
                try:
                    self.statements(node.body)
                finally:
                    self.state.current, self.blocks = previous, previous_blocks
                continue
            method = getattr(self, "stmt_" + type(node).__name__, None)
            if method is None:
                raise self.state.error(node, f"{{% {type(node).__name__.lower()} %}} is not supported")
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
            elif self.ours(COMPONENT_GLOBAL, render_component) and component_call(child):
                code, deps = self.expr(child.args[0])  # type: ignore[attr-defined]
                self.builder.slot(ExprSlot(code, deps, self.state.autoescape, component=True))
            else:
                code, deps = self.expr(child)
                code = self.finalize(code, deps)
                self.builder.slot(ExprSlot(code, deps, self.state.autoescape))

    def const_output(self, child: nodes.Expr) -> str | None:
        """The text of an output expression jinja2 folds at compile time, else None."""
        finalize = self.state.jenv.finalize
        if finalize is not None and _PassArg.from_obj(finalize) in (
            _PassArg.context, _PassArg.eval_context
        ):
            return None
        try:
            value = child.as_const(self.state.eval_context())
            if self.state.autoescape:
                value = escape(value)
            if finalize is None:
                return str(value)
            if _PassArg.from_obj(finalize) is _PassArg.environment:
                return str(finalize(self.state.jenv, value))
            return str(finalize(value))
        except Exception:
            return None

    def finalize(self, code: str, deps: Deps) -> str:
        finalize = self.state.jenv.finalize
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
        level = self.state.scopes.level
        outer_phi = self.state.scopes.layers[-1].phi or {}
        for name in _branch_stores(bodies):
            prior = self.state.scopes.lookup(name)
            after.add(self.state.scopes.path_deps(prior, ()))
            if name in outer_phi:
                phi[name] = outer_phi[name]
            elif prior.kind == "bind" and prior.level == level.index:
                phi[name] = prior.reg
            else:
                phi[name] = level.alloc()
                code = f"G({name!r})" if prior.kind == "global" else prior.code
                self.builder.program.append(
                    Bind(level.index, phi[name], code, self.state.scopes.path_deps(prior, ()))
                )
        for test, body in clauses:
            self.state.in_if_test = True
            try:
                code, deps = self.expr(test)
            finally:
                self.state.in_if_test = False
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
            self.state.scopes.layers[-1].names[name] = Ref("bind", level.index, reg, name, after)

    def branch(self, body: list[nodes.Node], phi: dict[str, int] | None = None) -> Node:
        self.state.scopes.push_layer(phi=phi, conditional=phi is not None)
        try:
            return self.body_node(body)
        finally:
            self.state.scopes.pop()

    def ours(self, name: str, function: object) -> bool:
        """Whether the template global ``name`` is still lt_engine's ``function`` (a user's own
        ``stream`` or ``component`` global is called as any other)."""
        return self.state.jenv.globals.get(name) is function

    def stmt_For(self, node: nodes.For) -> None:
        ours = self.ours(STREAM_GLOBAL, stream_items)
        stream = stream_name(node.iter) if ours else None
        if stream is not None:
            check_stream_loop(self.state, node)
        elif ours and misused_stream(node.iter):
            raise self.state.error(node, "a stream loop reads stream(\"name\"): one constant"
                                         " name of the data's Stream")
        # a stream loop iterates the data's Stream itself (its pending items; _streams.pxi)
        iter_node = node.iter if stream is None else nodes.Name(stream, "load", lineno=node.lineno)
        iter_code, iter_deps = self.expr(iter_node)
        recursive_deps = self.recursive_reads(node) if node.recursive else Deps()
        level = self.state.scopes.push_level("loop")
        if node.recursive:
            self.recursive_loops += 1
            level.recursive_id = self.recursive_loops
            level.recursive_deps = recursive_deps
        try:
            target_code, target_reg = self.target(node.target, level.index)
            loop_ref = self.state.scopes.define("loop", "loop")
            filter_code = None
            if node.test is not None:
                filter_code, filter_deps = self.expr(node.test)
                iter_deps.add(filter_deps.outer(level.index))
                if filter_deps.volatile:
                    level.sequential = True
            body = self.body_node(node.body)
        finally:
            self.state.scopes.pop()
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
            stream=stream is not None,
        )
        if stream is not None and (slot.loop_reg >= 0 or ModuleWriter.key_slot(body) < 0):
            raise self.state.error(node, (
                f"stream({stream!r}): the loop body reads loop.*, which a stream cannot know"
                if slot.loop_reg >= 0 else
                f"stream({stream!r}): the loop body needs a key attribute with one value slot"
                " (id=\"m-{{ m.id }}\", data-key=…): updates and deletes find items by it"))
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
            deps.add(self.state.scopes.path_deps(self.state.scopes.lookup(name), ()))
        return deps

    def target(self, target: nodes.Node, level: int) -> tuple[str, int]:
        """Define loop target names; returns (python assignment of ``it`` into ``frame``, reg)."""
        if isinstance(target, nodes.Name):
            ref = self.state.scopes.define(target.name, "var")
            return f"frame[{ref.reg}] = it", ref.reg

        def pattern(t: nodes.Node) -> str:
            if isinstance(t, nodes.Name):
                return f"frame[{self.state.scopes.define(t.name, 'var').reg}]"
            if isinstance(t, nodes.Tuple):
                return "(" + "".join(pattern(item) + ", " for item in t.items) + ")"
            raise self.state.error(t, "unsupported loop target")

        return f"{pattern(target)} = it", -1

    def stmt_Assign(self, node: nodes.Assign) -> None:
        code, deps = self.expr(node.node)
        self.assign(node.target, code, deps, node)

    def assign(self, target: nodes.Node, code: str, deps: Deps, node: nodes.Node,
               alias_source: nodes.Node | None = None) -> None:
        if isinstance(target, nodes.NSRef):
            ref = self.state.scopes.lookup(target.name)
            self.builder.program.append(
                Effect(f"nsset({ref.code}, {target.attr!r}, {code})")
            )
            for level in self.state.scopes.levels:
                level.sequential = True
            return
        if isinstance(target, nodes.Name):
            alias = None
            source = alias_source if alias_source is not None else getattr(node, "node", None)
            if source is not None:
                path = self.exprs.path(source)
                if path is not None:
                    base = self.state.scopes.lookup(path[0].name)
                    if base.kind in ("top", "var"):
                        alias = (base, path[1])
            ref = self.state.scopes.declare(target.name)
            self.builder.program.append(Bind(ref.level, ref.reg, code, deps))
            ref.bind(deps)
            ref.alias = alias
            return
        if isinstance(target, nodes.Tuple):
            level = self.state.scopes.level
            tmp = level.alloc()
            self.builder.program.append(
                Bind(level.index, tmp, f"unpack({code}, {len(target.items)})", deps)
            )
            for i, item in enumerate(target.items):
                if isinstance(item, nodes.NSRef):
                    self.assign(item, f"S[{level.index}][{tmp}][{i}]", deps, node)
                    continue
                if not isinstance(item, nodes.Name):
                    raise self.state.error(item, "only names can be unpacked in {% set %}")
                ref = self.state.scopes.declare(item.name)
                self.builder.program.append(
                    Bind(level.index, ref.reg, f"S[{level.index}][{tmp}][{i}]", deps)
                )
                ref.bind(deps)
            return
        raise self.state.error(node, "unsupported assignment target")

    def render_node(self, body: list[nodes.Node]) -> tuple[str, Deps]:
        """Compile ``body`` as a render-only node; returns code rendering it to a str."""
        return self.render_node_with(lambda: self.statements(body))

    def render_node_with(self, compile_body: Callable[[], None]) -> tuple[str, Deps]:
        """A render-only node of what ``compile_body`` compiles; code rendering it to a str."""
        self.state.scopes.push_layer()
        outer = self.builder
        self.builder = NodeBuilder()
        try:
            compile_body()
            node = self.finish(self.builder)
        finally:
            self.builder = outer
            self.state.scopes.pop()
        self.render_nodes.append(node)
        return f"render(RN[{len(self.render_nodes) - 1}], S)", node.deps()

    def stmt_AssignBlock(self, node: nodes.AssignBlock) -> None:
        code, deps = self.render_node(node.body)
        # jinja2 marks the captured string safe by the (dynamic) eval context
        ec = self.state.eval_ctx_code()
        if node.filter is not None:
            block_value = f"Markup({code})" if self.state.autoescape else code
            code, fdeps = self.expr(node.filter, block_value)
            deps.add(fdeps)
        self.assign(node.target, f"markif({ec}, {code})", deps, node)

    def stmt_FilterBlock(self, node: nodes.FilterBlock) -> None:
        code, deps = self.render_node(node.body)
        block_value = f"Markup({code})" if self.state.autoescape else code
        fcode, fdeps = self.expr(node.filter, block_value)
        deps.add(fdeps)
        self.builder.slot(ExprSlot(f"str({fcode})", deps, False))

    def stmt_With(self, node: nodes.With) -> None:
        values = [self.expr(value) for value in node.values]
        self.state.scopes.push_layer()
        try:
            for target, (code, deps), value in zip(node.targets, values, node.values, strict=False):
                self.assign(target, code, deps, node, alias_source=value)
            self.statements(node.body)
        finally:
            self.state.scopes.pop()

    def stmt_Scope(self, node: nodes.Scope) -> None:
        self.state.scopes.push_layer()
        try:
            self.statements(node.body)
        finally:
            self.state.scopes.pop()

    def stmt_ScopedEvalContextModifier(self, node: nodes.ScopedEvalContextModifier) -> None:
        previous = self.state.autoescape, self.state.explicit_autoescape
        self.eval_modifier(node)
        try:
            self.stmt_Scope(node)  # type: ignore[arg-type]
        finally:
            self.state.autoescape, self.state.explicit_autoescape = previous

    def stmt_EvalContextModifier(self, node: nodes.EvalContextModifier) -> None:
        self.eval_modifier(node)

    def eval_modifier(self, node: nodes.EvalContextModifier) -> None:
        for keyword in node.options:
            if keyword.key != "autoescape":
                raise self.state.error(node, f"eval context option {keyword.key!r} is not supported")
            if not isinstance(keyword.value, nodes.Const):
                raise self.state.error(node, "{% autoescape %} needs a constant true or false")
            self.state.autoescape = self.state.explicit_autoescape = bool(keyword.value.value)

    # -- macros

    def macro_def(self, name: str, node: nodes.Macro | nodes.CallBlock) -> tuple[str, Deps]:
        level = self.state.scopes.push_level("macro")
        try:
            arg_regs, arg_names = [], []
            defaults: list[str | None] = []
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
                arg_regs.append(self.state.scopes.define(arg.name, "macroarg").reg)
                arg_names.append(arg.name)
            body_names = {n.name for n in _find_loads(node.body)}
            caller_reg = varargs_reg = kwargs_reg = -1
            if "caller" in body_names and "caller" not in arg_names:
                caller_reg = self.state.scopes.define("caller", "macroarg").reg
            if "varargs" in body_names:
                varargs_reg = self.state.scopes.define("varargs", "macroarg").reg
            if "kwargs" in body_names:
                kwargs_reg = self.state.scopes.define("kwargs", "macroarg").reg
            body = self.body_node(node.body)
        finally:
            self.state.scopes.pop()
        macro = MacroDef(
            name=name, level=level.index, frame_size=level.size, arg_regs=arg_regs,
            arg_names=arg_names, defaults=defaults, caller_reg=caller_reg,
            varargs_reg=varargs_reg, kwargs_reg=kwargs_reg, body=body,
            autoescape=self.state.autoescape,
        )
        self.macros.append(macro)
        deps = body.deps().outer(level.index)
        deps.add(default_deps.outer(level.index))
        return f"MK[{len(self.macros) - 1}](S)", deps

    def stmt_Macro(self, node: nodes.Macro) -> None:
        # Declared before its body is compiled: a macro may call itself (a comment tree).
        ref = self.state.scopes.declare(node.name)
        code, deps = self.macro_def(node.name, node)
        self.builder.program.append(Bind(ref.level, ref.reg, code, deps))
        ref.bind(deps)

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
        self.state.scopes.push_layer(barrier=None if (scoped or block.scoped) else "block")
        try:
            self.statements(block.body)
        finally:
            self.state.scopes.pop()
            self.super_chain.pop()

    def self_block(self, name: str, node: nodes.Node) -> tuple[str, Deps]:
        """``self.name()``: the block rendered again, to a string (as jinja2's BlockReference:
        Markup when autoescaping)."""
        chain = self.blocks.get(name)
        if chain is None:
            raise self.state.error(node, f"self.{name}(): the template has no block named {name!r}")
        if name in self.self_blocks:
            raise self.state.error(node, f"self.{name}() inside block {name!r} would never end")
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
        return (f"Markup({code})" if self.state.autoescape else code), deps

    def super_block(self, node: nodes.Call) -> None:
        if not self.super_chain:
            raise self.state.error(node, "super() outside of a block")
        name, index = self.super_chain[-1]
        chain = self.blocks[name]
        if index + 1 >= len(chain):
            # as jinja2: super() is an undefined there, and calling it raises UndefinedError
            message = f"there is no parent block called {name!r}."
            self.builder.slot(
                ExprSlot(f"R.undefined({message!r}, name='super')()", Deps(), self.state.autoescape)
            )
            return
        self.render_block(name, chain, index + 1, chain[index + 1].scoped)

    def stmt_Include(self, node: nodes.Include) -> None:
        names = template_names(self.state, node)
        if self.state.jenv.loader is None:
            raise self.state.error(node, "cannot include templates: the environment has no loader")
        for template in names:
            try:
                ast, name, filename = self.state.load(template, node)
            except CompileError:
                continue
            break
        else:
            if node.ignore_missing:
                return
            raise self.state.error(node, f"included template {names[0]!r} not found")
        previous_blocks = self.blocks
        previous = self.state.current
        self.state.current = (name, filename)
        # An included template is compiled on its own, and renders in a fresh context.
        escaping = self.state.autoescape, self.state.explicit_autoescape
        own = self.state.default_autoescape(name)
        self.state.autoescape, self.state.explicit_autoescape = own, own
        self.state.scopes.push_layer(barrier=None if node.with_context else "globals")
        try:
            self.statements(effective_body(self.state, ast))
        finally:
            self.state.scopes.pop()
            self.state.current = previous
            self.blocks = previous_blocks
            self.state.autoescape, self.state.explicit_autoescape = escaping

    def imported_macros(self, node: nodes.Import | nodes.FromImport) -> dict[str, tuple[str, Deps]]:
        template = template_names(self.state, node)[0]
        ast, name, filename = self.state.load(template, node)
        previous = self.state.current
        self.state.current = (name, filename)
        escaping = self.state.autoescape, self.state.explicit_autoescape
        self.state.autoescape, self.state.explicit_autoescape = self.state.default_autoescape(name), None
        self.state.scopes.push_layer(barrier=None if node.with_context else "globals")
        found: dict[str, tuple[str, Deps]] = {}
        try:
            for child in ast.body:
                if isinstance(child, nodes.Macro):
                    code, deps = self.macro_def(child.name, child)
                    found[child.name] = (code, deps)
                    self.state.scopes.define(child.name, "bind", deps)
                    level = self.state.scopes.level
                    self.builder.program.append(Bind(level.index, level.size - 1, code, deps))
                    found[child.name] = (self.state.scopes.lookup(child.name).code, deps)
        finally:
            self.state.scopes.pop()
            self.state.current = previous
            self.state.autoescape, self.state.explicit_autoescape = escaping
        return found

    def stmt_FromImport(self, node: nodes.FromImport) -> None:
        found = self.imported_macros(node)
        for item in node.names:
            source, alias = item if isinstance(item, tuple) else (item, item)
            if source not in found:
                raise self.state.error(node, f"the template does not export {source!r}")
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
        raise self.state.error(node, "{% extends %} must be a top-level tag")


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


def stream_name(node: nodes.Node) -> str | None:
    """``"messages"`` for the loop iterable ``stream("messages")``, else None."""
    if (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name)
            and node.node.name == STREAM_GLOBAL and len(node.args) == 1 and not node.kwargs
            and node.dyn_args is None and node.dyn_kwargs is None
            and isinstance(node.args[0], nodes.Const) and isinstance(node.args[0].value, str)):
        return node.args[0].value
    return None


def misused_stream(node: nodes.Node) -> bool:
    """A loop over ``stream(…)`` that is not ``stream("a constant name")``."""
    return (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name)
            and node.node.name == STREAM_GLOBAL and stream_name(node) is None)


def check_stream_loop(state: CompileState, node: nodes.For) -> None:
    """What a stream loop cannot have: the server keeps none of its items."""
    name = stream_name(node.iter)
    if node.else_:
        raise state.error(node, f"stream({name!r}) loops have no {{% else %}}: the server does"
                                " not know whether the browser's list is empty")
    if node.recursive:
        raise state.error(node, f"stream({name!r}) loops cannot be recursive")


def component_call(node: nodes.Expr) -> bool:
    """``{{ component(obj) }}``: an output that shows a live component."""
    return (isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name)
            and node.node.name == COMPONENT_GLOBAL and len(node.args) == 1 and not node.kwargs
            and node.dyn_args is None and node.dyn_kwargs is None)
