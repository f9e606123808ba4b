"""What one template's compilation shares between its stages, as one explicit object.

The compiler's stages (see :mod:`lt_engine.compiler` for the walk through them) read and
extend this state and nothing else of each other: :mod:`lt_engine.composition` loads the
templates a template extends through it, :class:`~lt_engine.expressions.ExprCompiler` resolves
names, folds constants, escapes and reports errors through it, and
:class:`~lt_engine.compiler.Compiler` moves it along as it walks statements (which template's
code it is in, the escaping in force).
"""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.nodes import EvalContext
from jinja2.optimizer import Optimizer

from .errors import CompileError
from .scope import Scopes


class CompileState:
    def __init__(self, jenv: jinja2.Environment, name: str | None,
                 filename: str | None) -> None:
        self.jenv = jenv
        self.name = name  # of the template being compiled (the root of includes and parents)
        self.current = (name, filename)  # the template whose code is being compiled now
        self.scopes = Scopes()
        self.autoescape = self.default_autoescape(name)
        self.explicit_autoescape: bool | None = None  # inside {% autoescape %}: its value
        self.in_if_test = False  # compiling the test of an {% if %}
        # What the compilation collects, for the IR
        self.sources: dict[str, str] = {}  # every template read: name -> source
        self.consts: list[Any] = []  # K[i]
        self.needs_context = False  # some callee takes the jinja2 context

    def error(self, node: nodes.Node | None, message: str) -> CompileError:
        lineno = getattr(node, "lineno", 0) or 0
        name, filename = self.current
        return CompileError(message, lineno, name, filename)

    # -- templates

    def parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        self.sources[name or "<string>"] = source
        return self.jenv.parse(source, name, filename)

    def load(self, template: str, node: nodes.Node) -> tuple[nodes.Template, str, str | None]:
        """Parse template ``template`` from the loader: (ast, name, filename)."""
        loader = self.jenv.loader
        if loader is None:
            raise self.error(node, f"cannot load {template!r}: the environment has no loader")
        try:
            source, filename, _ = loader.get_source(self.jenv, template)
        except jinja2.TemplateNotFound as exc:
            raise self.error(node, f"template {template!r} not found") from exc
        previous = self.current
        self.current = (template, filename)
        try:
            return self.parse(source, template, filename), template, filename
        finally:
            self.current = previous

    # -- escaping and folding

    def default_autoescape(self, name: str | None) -> bool:
        """The environment's autoescape setting for template ``name`` (a bool or a function)."""
        return EvalContext(self.jenv, name).autoescape

    def eval_ctx_code(self) -> str:
        """The eval context callees get: jinja2's is dynamic, set by enclosing autoescape blocks."""
        if self.explicit_autoescape is None:
            return "R.current_ec"
        return "EC" if self.explicit_autoescape else "ECN"

    def eval_context(self) -> EvalContext:
        ctx = EvalContext(self.jenv, self.current[0])
        ctx.autoescape = self.autoescape
        return ctx

    def optimize(self, node: nodes.Node) -> nodes.Node:
        """Constant-fold as jinja2's code generator does: its folding changes some results."""
        if not self.jenv.optimized:
            return node
        return Optimizer(self.jenv).visit(node, self.eval_context())

    def const(self, value: Any) -> str:
        self.consts.append(value)
        return f"K[{len(self.consts) - 1}]"

    def conditional(self) -> bool:
        """Compiling the tests or a branch of an {% if %} (see ``unknown`` in the runtime)."""
        return self.in_if_test or self.scopes.layers[-1].conditional
