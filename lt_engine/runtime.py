"""Helpers the generated template code calls, bound to one jinja2 environment.

They reproduce jinja2's runtime behaviour (name resolution, ``Context.call``, macros, the
``loop`` object, namespaces) so the code emitted by :mod:`lt_engine.expressions` renders exactly
what jinja2 renders.

This module is the contract of a generated template module: ``BOUND_NAMES`` is every name its
code may use (what :mod:`lt_engine.codegen` binds in ``build(env, runtime_class)``), and
``FORMAT_VERSION`` versions that contract, and the precompiled manifest with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2.nodes import EvalContext
from jinja2.runtime import Macro, markup_join, str_join
from jinja2.utils import Namespace, _PassArg, missing
from markupsafe import Markup

from . import _core

# Bumped whenever generated modules (the names below, the descriptors they build, the helpers
# they call) or the precompiled manifest change: a module of another version is not loaded.
FORMAT_VERSION = 2

def source_hash(source: str) -> str:
    """The hash a generated module records (``DEPENDENCIES``) for a template source."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


# Every name generated code may use besides its own functions (``f<n>``), nodes (``N<id>``) and
# recursive loops (``FD<id>``, ``RE<id>``): name -> (the expression ``build`` binds it to, what
# it is).  ``S``, the frame stack, is the parameter of every generated function.
BOUND_NAMES: dict[str, tuple[str, str]] = {
    "R": ("runtime_class(env, TEMPLATE_NAME)", "this Runtime: the helpers below"),
    "ENV": ("env", "the jinja2 environment (filters taking pass_environment)"),
    "ga": ("R.ga", "jinja2's getattr: x.name"),
    "gad": ("R.gad", "x.name where name is no dict attribute (a plain dict's key first)"),
    "gi": ("R.gi", "jinja2's getitem: x[key]"),
    "call": ("R.call", "jinja2's Context.call"),
    "callf": ("R.call_forced", "call inside {% autoescape %}: the callee sees that eval context"),
    "recurse": ("R.recurse", "loop(items) in a recursive for"),
    "CTX": ("R.context", "the jinja2 Context of a render (pass_context callees)"),
    "F": ("R.filters", "the environment's filters"),
    "T": ("R.tests", "the environment's tests"),
    "EC": ("R.eval_ctx", "an eval context that autoescapes"),
    "ECN": ("R.eval_ctx_noescape", "an eval context that does not"),
    "U": ("_core.Undefined", "jinja2's Undefined (an inline if without else)"),
    "G": ("R.global_", "a name of the environment's globals"),
    "FIN": ("env.finalize", "the environment's finalize"),
    "render": ("_core.render_node_html", "a node rendered to a string (macros, blocks, set)"),
    "module": ("Module", "what {% import %} binds"),
    "K": ("[...]", "the template's folded constants"),
    "RN": ("[]", "render-only nodes (block set, filter blocks, self.block())"),
    "MK": ("[]", "macro factories"),
    "Markup": ("", "markupsafe.Markup (imported)"),
    "markif": ("", "what {% set %}…{% endset %} stores (imported)"),
    "markup_join": ("", "jinja2's ~ when autoescaping (imported)"),
    "str_join": ("", "jinja2's ~ otherwise (imported)"),
    "nsset": ("", "{% set ns.attr = … %} (imported)"),
    "unpack": ("", "tuple {% set %} (imported)"),
    "unknown": ("", "an unknown filter or test that raises when run (imported)"),
    "_core": ("", "the Cython core: descriptors (imported)"),
    "Module": ("", "the class behind module (imported)"),
    "TEMPLATE_NAME": ("", "the template's name (module constant)"),
}


class Loop:
    """The ``loop`` variable, as jinja2's ``LoopContext`` (non-recursive loops)."""

    __slots__ = ("_items", "index0", "_undefined", "_last_changed_value")

    def __init__(self, items: list[Any], undefined: type[jinja2.Undefined]) -> None:
        self._items = items
        self.index0 = 0
        self._undefined = undefined
        self._last_changed_value: Any = missing

    @property
    def length(self) -> int:
        return len(self._items)

    @property
    def index(self) -> int:
        return self.index0 + 1

    @property
    def revindex(self) -> int:
        return len(self._items) - self.index0

    @property
    def revindex0(self) -> int:
        return len(self._items) - self.index0 - 1

    @property
    def first(self) -> bool:
        return self.index0 == 0

    @property
    def last(self) -> bool:
        return self.index0 == len(self._items) - 1

    depth = 1
    depth0 = 0

    @property
    def previtem(self) -> Any:
        if self.index0 == 0:
            return self._undefined("there is no previous item")
        return self._items[self.index0 - 1]

    @property
    def nextitem(self) -> Any:
        if self.index0 + 1 >= len(self._items):
            return self._undefined("there is no next item")
        return self._items[self.index0 + 1]

    def cycle(self, *args: Any) -> Any:
        if not args:
            raise TypeError("no items for cycling given")
        return args[self.index0 % len(args)]

    def changed(self, *value: Any) -> bool:
        if self._last_changed_value != value:
            self._last_changed_value = value
            return True
        return False

    def __call__(self, iterable: Any) -> str:
        raise TypeError("The loop must be marked as 'recursive' to call it.")

    def __repr__(self) -> str:
        return f"<LoopContext {self.index}/{self.length}>"


class NestedLoop(Loop):
    """``loop`` inside a recursive loop rendered again by ``loop(…)``: one level deeper."""

    __slots__ = ("depth0",)

    def __init__(self, items: list[Any], undefined: type[jinja2.Undefined], depth0: int) -> None:
        super().__init__(items, undefined)
        self.depth0 = depth0

    @property
    def depth(self) -> int:  # type: ignore[override]
        return self.depth0 + 1


class Module:
    """What ``{% import 'x' as m %}`` binds: the template's macros as attributes."""

    def __init__(self, members: dict[str, Any]) -> None:
        self.__dict__.update(members)

    def __repr__(self) -> str:
        return f"<Module {sorted(self.__dict__)}>"


def nsset(ns: Any, attr: str, value: Any) -> None:
    if not isinstance(ns, Namespace):
        raise jinja2.TemplateRuntimeError("cannot assign attribute on non-namespace object")
    ns[attr] = value


def unpack(value: Any, count: int) -> tuple[Any, ...]:
    values = tuple(value)
    if len(values) > count:
        raise ValueError(f"too many values to unpack (expected {count})")
    if len(values) < count:
        raise ValueError(f"not enough values to unpack (expected {count}, got {len(values)})")
    return values


class Runtime:
    """Everything generated code needs from the environment, looked up once per template."""

    def __init__(self, env: jinja2.Environment, name: str | None) -> None:
        self.env = env
        self.name = name
        self.undefined = env.undefined
        self.filters = env.filters
        self.tests = env.tests
        self.eval_ctx = EvalContext(env, name)
        self.eval_ctx.autoescape = True
        self.eval_ctx_noescape = EvalContext(env, name)
        self.eval_ctx_noescape.autoescape = False
        # jinja2's context.eval_ctx: the environment's default for this template, set by
        # {% autoescape %} blocks for everything they call
        self.current_ec = EvalContext(env, name)
        self.ga, self.gad, self.gi = _core.make_accessors(env)
        self.globals = env.globals

    # -- names

    @staticmethod
    def context(S: list[list[Any]], /) -> Any:
        """The jinja2 Context of the render ``S`` belongs to (made on first use)."""
        return S[0][0].context()

    def resolve(self, data: Mapping[str, Any], name: str) -> Any:
        try:
            return data[name]
        except KeyError:
            pass
        value = self.globals.get(name, missing)
        if value is missing:
            return self.undefined(name=name)
        return value

    def global_(self, name: str) -> Any:
        value = self.globals.get(name, missing)
        if value is missing:
            return self.undefined(name=name)
        return value

    # -- calls, as jinja2's Context.call

    def call(self, S: list[list[Any]], obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        pass_arg = getattr(obj, "jinja_pass_arg", None)
        if pass_arg is None:
            inner = getattr(obj, "__call__", None)  # noqa: B004 - jinja2 checks it this way
            if inner is not None and getattr(inner, "jinja_pass_arg", None) is not None:
                obj = inner
                pass_arg = inner.jinja_pass_arg
        if pass_arg is _PassArg.context:
            args = (S[0][0].context(), *args)
        elif pass_arg is _PassArg.eval_context:
            args = (self.current_ec, *args)
        elif pass_arg is _PassArg.environment:
            args = (self.env, *args)
        try:
            return obj(*args, **kwargs)
        except StopIteration:
            return self.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )

    def call_forced(self, S: list[list[Any]], eval_ctx: EvalContext, obj: Any, /, *args: Any,
                    **kwargs: Any) -> Any:
        """``call`` inside an ``{% autoescape %}`` block: the callee runs in its eval context."""
        previous = self.current_ec
        self.current_ec = eval_ctx
        try:
            return self.call(S, obj, *args, **kwargs)
        finally:
            self.current_ec = previous


    # -- macros

    def macro_factory(self, name: str, level: int, frame_size: int, arg_regs: list[int],
                      arg_names: list[str], defaults: list[Callable[..., Any] | None],
                      caller_reg: int, varargs_reg: int, kwargs_reg: int, body: Any,
                      autoescape: bool) -> Callable[[list[list[Any]]], Macro]:
        env = self.env
        undefined = self.undefined
        render = _core.render_node_html
        n_args = len(arg_regs)

        def factory(S_def: list[list[Any]]) -> Macro:
            prefix = S_def[:level]

            def func(*arguments: Any) -> str:
                frame: list[Any] = [None] * frame_size
                S = [*prefix, frame]
                for i in range(n_args):
                    value = arguments[i]
                    if value is missing:
                        default = defaults[i]
                        if default is None:
                            value = undefined(
                                f"parameter {arg_names[i]!r} was not provided", name=arg_names[i]
                            )
                        else:
                            value = default(S)
                    frame[arg_regs[i]] = value
                pos = n_args
                if caller_reg >= 0:
                    frame[caller_reg] = arguments[pos]
                    pos += 1
                if kwargs_reg >= 0:
                    frame[kwargs_reg] = arguments[pos]
                    pos += 1
                if varargs_reg >= 0:
                    frame[varargs_reg] = arguments[pos]
                return render(body, S)

            return Macro(env, func, name, arg_names, kwargs_reg >= 0, varargs_reg >= 0,
                         caller_reg >= 0, default_autoescape=autoescape)

        return factory

    def recurse(self, desc: Any, else_body: Any, S: list[list[Any]], level: int,
                iterable: Any, autoescape: bool, /) -> Any:
        """``loop(items)`` in ``{% for … recursive %}``: the loop ``desc`` rendered over
        ``items`` one level deeper, with the frames outside the loop; as jinja2, Markup when
        autoescaping, and the else body when there is nothing to render."""
        prefix = S[:level]
        depth0 = S[level][desc.loop_reg].depth0 + 1
        render = _core.render_node_html

        def frame_of(item: Any) -> list[Any]:
            frame: list[Any] = [None] * desc.frame_size
            if desc.target_reg >= 0:
                frame[desc.target_reg] = item
            else:
                desc.target_fn(item, frame)
            return frame

        items = list(iterable)
        if desc.filter_fn is not None:
            items = [item for item in items if desc.filter_fn([*prefix, frame_of(item)])]
        loop = NestedLoop(items, self.undefined, depth0)
        parts = []
        for index, item in enumerate(items):
            frame = frame_of(item)
            frame[desc.loop_reg] = loop
            loop.index0 = index
            parts.append(render(desc.body, [*prefix, frame]))
        if not items and else_body is not None:
            parts.append(render(else_body, prefix))
        text = "".join(parts)
        return Markup(text) if autoescape else text

    def loop_factory(self) -> Callable[[list[Any]], Loop]:
        undefined = self.undefined
        return lambda items: Loop(items, undefined)


def unknown(kind: str, name: str) -> Callable[..., Any]:
    """What an unknown filter or test in an if compiles to: it raises when it runs (jinja2 3)."""

    def fail(*unused: Any) -> Any:
        raise jinja2.TemplateRuntimeError(f"No {kind} named {name!r} found.")

    return fail


def markif(eval_ctx: EvalContext, value: Any) -> Any:
    """What ``{% set x %}…{% endset %}`` stores: Markup when the eval context autoescapes."""
    return Markup(value) if eval_ctx.autoescape else value


__all__ = [
    "Loop", "Markup", "Module", "Runtime", "markif", "unknown", "markup_join", "nsset", "str_join",
    "unpack",
]
