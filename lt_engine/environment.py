"""The engine's entry point: an Environment that compiles jinja2 templates into live templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2

from . import _core
from .codegen import generate
from .compiler import compile_ir
from .runtime import Runtime


class Template:
    """A compiled template: render it to a string, or mount it as a live page."""

    def __init__(self, environment: Environment, desc: _core.TemplateDesc, module_source: str,
                 name: str | None) -> None:
        self.environment = environment
        self.name = name
        self.module_source = module_source
        self._desc = desc

    def render(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> str:
        """The same string ``jinja2`` renders for this template and data."""
        return self._desc.render(_merge(data, kwargs))

    def mount(self, data: Mapping[str, Any] | None = None, **kwargs: Any) -> _core.Mount:
        """Render once and keep the state needed to compute minimal updates."""
        return self._desc.mount(_merge(data, kwargs))

    def __repr__(self) -> str:
        return f"<lt_engine.Template {self.name or '<string>'}>"


def _merge(data: Mapping[str, Any] | None, kwargs: dict[str, Any]) -> Mapping[str, Any]:
    if data is None:
        return kwargs
    if kwargs:
        merged = dict(data)
        merged.update(kwargs)
        return merged
    return data


class Environment:
    """Like :class:`jinja2.Environment` (same options, same loaders), with autoescaping on.

    ``filters``, ``tests`` and ``globals`` are the underlying jinja2 environment's: register
    your own there.  Filters and globals must be pure functions of their arguments (as jinja2's
    built-ins are); one that is not, or that takes the context, is re-run on every update.
    """

    def __init__(self, loader: jinja2.BaseLoader | None = None, **options: Any) -> None:
        autoescape = options.pop("autoescape", True)
        if autoescape is not True:
            raise ValueError(
                "lt_engine always autoescapes; use |safe or Markup for trusted HTML,"
                " or {% autoescape false %} around a section"
            )
        if options.get("enable_async"):
            raise ValueError("lt_engine does not support enable_async")
        self.jinja = jinja2.Environment(loader=loader, autoescape=True, **options)
        self._cache: dict[str, tuple[Template, Any]] = {}

    @property
    def loader(self) -> jinja2.BaseLoader | None:
        return self.jinja.loader

    @property
    def filters(self) -> dict[str, Any]:
        return self.jinja.filters

    @property
    def tests(self) -> dict[str, Any]:
        return self.jinja.tests

    @property
    def globals(self) -> dict[str, Any]:
        return self.jinja.globals

    def compile_source(self, source: str, name: str | None = None,
                       filename: str | None = None) -> str:
        """The Python module source of a compiled template (what precompiling writes)."""
        ir = compile_ir(self, self.jinja, source, name, filename)
        return generate(ir)

    def load_module_source(self, module_source: str, name: str | None = None,
                           filename: str | None = None) -> Template:
        namespace: dict[str, Any] = {"__name__": f"lt_engine.compiled.{name or 'string'}"}
        code = compile(module_source, filename or f"<lt_engine {name or 'string'}>", "exec")
        exec(code, namespace)
        desc = namespace["build"](self.jinja, Runtime)
        return Template(self, desc, module_source, name)

    def from_string(self, source: str, name: str | None = None) -> Template:
        return self.load_module_source(self.compile_source(source, name), name)

    def get_template(self, name: str) -> Template:
        """Load, compile and cache a template from the loader (recompiled when its source changes)."""
        if self.jinja.loader is None:
            raise jinja2.TemplateNotFound(name, "the environment has no loader")
        cached = self._cache.get(name)
        if cached is not None and cached[1]():
            return cached[0]
        source, filename, uptodate = self.jinja.loader.get_source(self.jinja, name)
        template = self.load_module_source(self.compile_source(source, name, filename), name)
        self._cache[name] = (template, uptodate or (lambda: True))
        return template
