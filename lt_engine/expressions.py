"""Jinja2 expressions -> Python source, plus the leaves each expression reads.

The generated code mirrors what jinja2's own code generator emits (``environment.getattr``,
``context.call``, ``markup_join``, filters with their ``pass_*`` argument), so values, errors and
escaping are jinja2's.  Alongside the code we compute :class:`~lt_engine.ir.Deps`: an attribute
or constant-index chain on a name (``todo.title``, ``rows[0]``) is one leaf; anything the runtime
cannot re-read cheaply and purely (``random``, ``namespace()``, ``lipsum``) makes the expression
volatile, so it is re-evaluated on every update.

Names the code uses, bound by the generated module (:mod:`lt_engine.codegen`): ``S`` (frame
stack), ``ga``/``gi`` (jinja2 getattr/getitem), ``call``, ``F`` (filters), ``T`` (tests),
``K`` (constants), ``U`` (undefined factory), ``G`` (globals lookup), ``EC`` (eval context),
``ENV``, ``markup_join``, ``str_join``, ``Markup``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.utils import _PassArg

from .ir import ATTR, ITEM, Deps
from .scope import Ref
from .tracked import MAPPING_ATTRS as DICT_ATTRS

if TYPE_CHECKING:
    from collections.abc import Callable

    from .compile_state import CompileState

BINOPS = {
    nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Div: "/", nodes.FloorDiv: "//",
    nodes.Pow: "**", nodes.Mod: "%", nodes.And: "and", nodes.Or: "or",
}
UNOPS = {nodes.Pos: "+", nodes.Neg: "-", nodes.Not: "not "}
CMPOPS = {
    "eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=",
    "in": "in", "notin": "not in",
}
# Built-ins whose result is not a pure function of their arguments.
VOLATILE_FILTERS = frozenset({"random"})
VOLATILE_GLOBALS = frozenset({"lipsum", "cycler", "joiner", "namespace"})
# Built-in filters/tests that take the context only to reach the environment: still pure.
PURE_CONTEXT_FILTERS = frozenset({"map", "select", "reject", "selectattr", "rejectattr"})
SIMPLE_CONSTS = (str, int, float, bool, type(None))
BUILTIN_FILTERS = frozenset(jinja2.Environment().filters)


class ExprCompiler:
    """One jinja2 expression at a time -> (Python source, :class:`~lt_engine.ir.Deps`).

    Reads names, escaping and the template being compiled from the shared
    :class:`~lt_engine.compile_state.CompileState`; ``self_block`` compiles ``self.<block>()``
    (the statement compiler's job: a block is statements)."""

    def __init__(self, state: CompileState,
                 self_block: Callable[[str, nodes.Node], tuple[str, Deps]]) -> None:
        self.state = state
        self.self_block = self_block
        self.conditional = 0  # inside an inline if: unknown filters/tests fail only when run
        self.block_value = "None"  # what a filter with no operand filters (see compile)

    # -- entry points

    def compile(self, node: nodes.Node, block_value: str | None = None) -> tuple[str, Deps]:
        """``block_value``: in ``{% filter %}`` and block ``{% set %}``, the code of the body's
        text, which the innermost filter (jinja2 gives it no operand) filters."""
        deps = Deps()
        outer, self.block_value = self.block_value, block_value or "None"
        try:
            return self.visit(self.state.optimize(node), deps), deps
        finally:
            self.block_value = outer

    def visit(self, node: nodes.Node, deps: Deps) -> str:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise self.state.error(node, f"the expression {type(node).__name__} is not supported")
        return method(node, deps)

    # -- names and paths

    def path(self, node: nodes.Node) -> tuple[nodes.Name, tuple[tuple[int, Any], ...]] | None:
        """``a.b['c'][0]`` -> (Name a, steps) when every step is constant."""
        steps: list[tuple[int, Any]] = []
        while True:
            if isinstance(node, nodes.Getattr):
                steps.append((ATTR, node.attr))
                node = node.node
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
                if not isinstance(node.arg.value, (str, int)) or isinstance(node.arg.value, bool):
                    return None
                steps.append((ITEM, node.arg.value))
                node = node.node
            elif isinstance(node, nodes.Name) and node.ctx == "load":
                return node, tuple(reversed(steps))
            else:
                return None

    def _track_path(self, node: nodes.Node, deps: Deps) -> bool:
        path = self.path(node)
        if path is None:
            return False
        name, steps = path
        ref = self.state.scopes.lookup(name.name)
        if ref.kind == "global":
            return True
        deps.add(self.state.scopes.path_deps(ref, steps))
        return True

    def visit_Name(self, node: nodes.Name, deps: Deps) -> str:
        if node.ctx != "load":
            raise self.state.error(node, "assignment target used as a value")
        ref = self.state.scopes.lookup(node.name)
        if ref.kind == "global":
            return f"G({node.name!r})"
        deps.add(self.state.scopes.path_deps(ref, ()))
        if ref.kind == "top" and node.name in VOLATILE_GLOBALS:
            deps.volatile = True
        return ref.code

    def visit_Getattr(self, node: nodes.Getattr, deps: Deps) -> str:
        if self._track_path(node, deps):
            return self._path_code(node)
        return f"{self._ga(node.attr)}({self.visit(node.node, deps)}, {node.attr!r})"

    def visit_Getitem(self, node: nodes.Getitem, deps: Deps) -> str:
        if isinstance(node.arg, nodes.Slice):
            return f"{self.visit(node.node, deps)}[{self.visit(node.arg, deps)}]"
        if self._track_path(node, deps):
            return self._path_code(node)
        return f"gi({self.visit(node.node, deps)}, {self.visit(node.arg, deps)})"

    @staticmethod
    def _ga(attr: str) -> str:
        """``gad`` skips the getattr attempt on plain dicts when ``attr`` is no dict attribute."""
        return "ga" if attr in DICT_ATTRS else "gad"

    def _path_code(self, node: nodes.Node) -> str:
        """Code for a constant path, without adding deps again."""
        if isinstance(node, nodes.Getattr):
            return f"{self._ga(node.attr)}({self._path_code(node.node)}, {node.attr!r})"
        if isinstance(node, nodes.Getitem):
            assert isinstance(node.arg, nodes.Const)  # _track_path took only constant keys
            return f"gi({self._path_code(node.node)}, {node.arg.value!r})"
        assert isinstance(node, nodes.Name)
        ref = self.state.scopes.lookup(node.name)
        if ref.kind == "global":
            return f"G({node.name!r})"
        return ref.code

    # -- literals

    def visit_Const(self, node: nodes.Const, deps: Deps) -> str:
        value = node.value
        if type(value) in (str, int, bool, type(None)):
            return repr(value)
        return self.state.const(value)

    def visit_TemplateData(self, node: nodes.TemplateData, deps: Deps) -> str:
        if self.state.autoescape:
            return f"Markup({node.data!r})"
        return repr(node.data)

    def visit_Tuple(self, node: nodes.Tuple, deps: Deps) -> str:
        items = [self.visit(item, deps) for item in node.items]
        if len(items) == 1:
            return f"({items[0]},)"
        return "(" + ", ".join(items) + ")"

    def visit_List(self, node: nodes.List, deps: Deps) -> str:
        return "[" + ", ".join(self.visit(item, deps) for item in node.items) + "]"

    def visit_Dict(self, node: nodes.Dict, deps: Deps) -> str:
        pairs = [f"{self.visit(p.key, deps)}: {self.visit(p.value, deps)}" for p in node.items]
        return "{" + ", ".join(pairs) + "}"

    # -- operators

    def visit_BinExpr(self, node: nodes.BinExpr, deps: Deps) -> str:
        op = BINOPS[type(node)]
        left, right = self.visit(node.left, deps), self.visit(node.right, deps)
        return f"({left} {op} {right})"

    visit_Add = visit_Sub = visit_Mul = visit_Div = visit_FloorDiv = visit_BinExpr
    visit_Pow = visit_Mod = visit_And = visit_Or = visit_BinExpr

    def visit_UnaryExpr(self, node: nodes.UnaryExpr, deps: Deps) -> str:
        operand = self.visit(node.node, deps)
        return f"({UNOPS[type(node)]}{operand})"

    visit_Pos = visit_Neg = visit_Not = visit_UnaryExpr

    def visit_Compare(self, node: nodes.Compare, deps: Deps) -> str:
        parts = [self.visit(node.expr, deps)]
        for op in node.ops:
            parts.append(CMPOPS[op.op])
            parts.append(self.visit(op.expr, deps))
        return "(" + " ".join(parts) + ")"

    def visit_Concat(self, node: nodes.Concat, deps: Deps) -> str:
        func = "markup_join" if self.state.autoescape else "str_join"
        return f"{func}((" + "".join(self.visit(n, deps) + ", " for n in node.nodes) + "))"

    def visit_CondExpr(self, node: nodes.CondExpr, deps: Deps) -> str:
        self.conditional += 1
        try:
            test = self.visit(node.test, deps)
            expr1 = self.visit(node.expr1, deps)
            expr2 = self.visit(node.expr2, deps) if node.expr2 is not None else ""
        finally:
            self.conditional -= 1
        if node.expr2 is None:
            where = f"line {node.lineno}" + (
                f" in {self.state.name!r}" if self.state.name is not None else ""
            )
            message = (
                f"the inline if-expression on {where} evaluated to false and no else"
                " section was defined."
            )
            expr2 = f"U({message!r})"
        return f"({expr1} if {test} else {expr2})"

    def visit_Slice(self, node: nodes.Slice, deps: Deps) -> str:
        parts = [
            self.visit(part, deps) if part is not None else ""
            for part in (node.start, node.stop)
        ]
        code = ":".join(parts)
        if node.step is not None:
            code += ":" + self.visit(node.step, deps)
        return code

    def visit_MarkSafe(self, node: nodes.MarkSafe, deps: Deps) -> str:
        return f"Markup({self.visit(node.expr, deps)})"

    def visit_MarkSafeIfAutoescape(self, node: nodes.MarkSafeIfAutoescape, deps: Deps) -> str:
        inner = self.visit(node.expr, deps)
        return f"Markup({inner})" if self.state.autoescape else inner

    # -- filters, tests, calls

    def _pass_arg(self, func: Any, name: str, deps: Deps) -> str:
        pass_arg = _PassArg.from_obj(func) if func is not None else None
        if pass_arg is _PassArg.context:
            self.state.needs_context = True
            if name not in PURE_CONTEXT_FILTERS:
                deps.volatile = True  # it may read any variable of the context
            return "CTX(S), "
        if pass_arg is _PassArg.eval_context:
            return self.state.eval_ctx_code() + ", "
        if pass_arg is _PassArg.environment:
            return "ENV, "
        return ""

    def _signature(self, node: nodes.Filter | nodes.Test | nodes.Call, deps: Deps) -> str:
        parts = [self.visit(arg, deps) for arg in node.args]
        parts += [f"{kw.key}={self.visit(kw.value, deps)}" for kw in node.kwargs]
        if node.dyn_args is not None:
            parts.append("*" + self.visit(node.dyn_args, deps))
        if node.dyn_kwargs is not None:
            parts.append("**" + self.visit(node.dyn_kwargs, deps))
        return ", ".join(parts)

    def _missing(self, node: nodes.Filter | nodes.Test, kind: str) -> str:
        """An unknown filter or test: jinja2 3 refuses it at compile time, except inside an
        ``{% if %}`` or inline if, where it raises only when that code runs."""
        if not (self.conditional or self.state.conditional()):
            raise self.state.error(node, f"no {kind} named {node.name!r}")
        return f"unknown({kind!r}, {node.name!r})"

    def visit_Filter(self, node: nodes.Filter, deps: Deps) -> str:
        func = self.state.jenv.filters.get(node.name)
        if func is None:
            value = self.visit(node.node, deps) if node.node is not None else "None"
            sig = self._signature(node, deps)
            return f"{self._missing(node, 'filter')}({value}{', ' + sig if sig else ''})"
        if node.name in VOLATILE_FILTERS or node.name not in BUILTIN_FILTERS:
            # user filters are trusted to be pure unless they ask for the context
            deps.volatile = deps.volatile or node.name in VOLATILE_FILTERS
        prefix = self._pass_arg(func, node.name, deps)
        if node.node is None:
            value = self.block_value
        else:
            value = self.visit(node.node, deps)
        sig = self._signature(node, deps)
        return f"F[{node.name!r}]({prefix}{value}{', ' + sig if sig else ''})"

    def visit_Test(self, node: nodes.Test, deps: Deps) -> str:
        func = self.state.jenv.tests.get(node.name)
        if func is None:
            value = self.visit(node.node, deps)
            sig = self._signature(node, deps)
            return f"{self._missing(node, 'test')}({value}{', ' + sig if sig else ''})"
        prefix = self._pass_arg(func, node.name, deps)
        value = self.visit(node.node, deps)
        sig = self._signature(node, deps)
        return f"T[{node.name!r}]({prefix}{value}{', ' + sig if sig else ''})"

    def visit_Call(self, node: nodes.Call, deps: Deps) -> str:
        callee = node.node
        if isinstance(callee, nodes.Name) and callee.name == "super":
            raise self.state.error(
                node, "super() is only supported alone in an output tag: {{ super() }}"
            )
        if isinstance(callee, nodes.Name) and callee.name == "loop":
            ref = self.state.scopes.lookup("loop")
            if ref.kind == "loop":
                return self._recurse(node, ref, deps)
        if (isinstance(callee, nodes.Getattr) and isinstance(callee.node, nodes.Name)
                and callee.node.name == "self"):
            if node.args or node.kwargs or node.dyn_args or node.dyn_kwargs:
                raise self.state.error(node, "self.<block>() takes no arguments")
            code, block_deps = self.self_block(callee.attr, node)
            deps.add(block_deps)
            return code
        loop_method = (
            isinstance(callee, nodes.Getattr)
            and isinstance(callee.node, nodes.Name)
            and self.state.scopes.lookup(callee.node.name).kind == "loop"
        )
        if isinstance(callee, nodes.Getattr) and not loop_method:
            # A method call reads its receiver: track the receiver's path, not the bound method.
            receiver = self.visit(callee.node, deps)
            func = f"{self._ga(callee.attr)}({receiver}, {callee.attr!r})"
        else:
            func = self.visit(callee, deps)
            if isinstance(callee, nodes.Name) and callee.name in VOLATILE_GLOBALS:
                deps.volatile = True
        sig = self._signature(node, deps)
        if self.state.explicit_autoescape is None:
            return f"call(S, {func}{', ' + sig if sig else ''})"
        # inside {% autoescape %}, callees see that eval context (jinja2's is dynamic)
        return f"callf(S, {self.state.eval_ctx_code()}, {func}{', ' + sig if sig else ''})"

    def _recurse(self, node: nodes.Call, ref: Ref, deps: Deps) -> str:
        """``loop(items)`` in a recursive loop: the loop rendered again over ``items`` one level
        deeper, to a string.  It reads its argument, and whatever the loop reads outside."""
        level = self.state.scopes.levels[ref.level]
        if level.recursive_id < 0:
            raise self.state.error(node, "loop(…) calls a loop that is not marked recursive")
        if len(node.args) != 1 or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise self.state.error(node, "loop(…) takes exactly one argument: the items")
        level.uses_loop = True
        items = self.visit(node.args[0], deps)
        deps.add(level.recursive_deps)
        rid = level.recursive_id
        return f"recurse(FD{rid}, RE{rid}, S, {ref.level}, {items}, {self.state.autoescape!r})"

    def visit_Keyword(self, node: nodes.Keyword, deps: Deps) -> str:  # pragma: no cover
        return f"{node.key}={self.visit(node.value, deps)}"

    def visit_NSRef(self, node: nodes.NSRef, deps: Deps) -> str:  # pragma: no cover
        raise self.state.error(node, "namespace reference used as a value")
