"""The engine's entry point: an Environment that compiles jinja2 templates into live templates.

Compiling (jinja2's parser, :mod:`lt_engine.compiler`, :mod:`lt_engine.codegen`) is imported on
first use only: an environment that loads precompiled templates (``compiled=``, see
:mod:`lt_engine.precompiled`) never runs or imports it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import jinja2

from . import _core, components, streams
from .precompiled import load_dir
from .runtime import Runtime

# What load_compiled does with a precompiled template whose sources changed since.
Stale = Literal["error", "recompile", "ignore"]


class Template:
    """A compiled template: render it to a string, or mount it as a live page.

    ``dependencies`` maps the name of every source the template was compiled from (itself, and
    what it extends, includes or imports) to the sha256 of that source; ``loader`` is the jinja2
    loader those names resolve in (``None`` for a template made from a string).
    """

    def __init__(self, environment: Environment, desc: _core.TemplateDesc | None,
                 module_source: str | None, name: str | None, *,
                 dependencies: Mapping[str, str] | None = None,
                 loader: jinja2.BaseLoader | None = None,
                 module_path: Path | None = None,
                 deferred: Callable[[], Template] | None = None) -> None:
        self.environment = environment
        self.name = name
        self.dependencies = dict(dependencies or {})
        self.loader = loader
        self._desc = desc
        self._module_source = module_source
        self._module_path = module_path
        self._deferred = deferred  # a stale precompiled template in dev mode: compile on first use

    @property
    def module_source(self) -> str:
        """The generated Python module of this template (read from disk if precompiled)."""
        if self._deferred is not None:
            self._materialize()
        if self._module_source is None and self._module_path is not None:
            self._module_source = self._module_path.read_text(encoding="utf-8")
        return self._module_source or ""

    def render(self, data: Mapping[str, Any] | None = None, /, **kwargs: Any) -> str:
        """The same string ``jinja2`` renders for this template and data."""
        return (self._desc or self._materialize()).render(_merge(data, kwargs))

    def mount(self, data: Mapping[str, Any] | None = None, /, **kwargs: Any) -> _core.Mount:
        """Render once and keep the state needed to compute minimal updates."""
        return (self._desc or self._materialize()).mount(_merge(data, kwargs))

    def _materialize(self) -> _core.TemplateDesc:
        if self._deferred is None:
            raise RuntimeError(f"template {self.name!r} has no compiled code")
        fresh = self._deferred()
        self._deferred = None
        self._desc, self._module_source = fresh._desc, fresh._module_source
        self.dependencies = fresh.dependencies
        assert self._desc is not None
        return self._desc

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
    """Like :class:`jinja2.Environment` (same options, same loaders), with autoescaping on
    unless ``autoescape=False`` (or a function of the template name, as jinja2's) says otherwise.

    ``filters``, ``tests`` and ``globals`` are the underlying jinja2 environment's: register
    your own there.  Filters and globals must be pure functions of their arguments (as jinja2's
    built-ins are); one that is not, or that takes the context, is re-run on every update.

    ``compiled`` is a directory written by ``livetemplate compile``: its templates are loaded
    now, without parsing (see :meth:`load_compiled`; ``on_stale`` says what to do when a source
    changed since), and ``get_template`` returns them.
    """

    def __init__(self, loader: jinja2.BaseLoader | None = None, *,
                 compiled: str | os.PathLike[str] | None = None, on_stale: Stale = "error",
                 **options: Any) -> None:
        if options.get("enable_async"):
            raise ValueError("lt_engine does not support enable_async")
        options.setdefault("autoescape", True)
        self.jinja = jinja2.Environment(loader=loader, **options)
        # stream("name") marks a loop as a stream, component(obj) shows a component: these are
        # what jinja2's own render calls (the engine's, through the environment set here)
        self.jinja.globals.setdefault(streams.GLOBAL_NAME, streams.stream_items)
        self.jinja.globals.setdefault(components.GLOBAL_NAME, components.render_component)
        self.jinja.extend(**{components.ENVIRONMENT_ATTR: self})
        # where a component's template name is looked up (an application has its own names)
        self.component_templates: Callable[[str], Template] = self.get_template
        self._cache: dict[str, tuple[Template, Any]] = {}
        self._compiled: dict[str, Template] = {}
        if compiled is not None:
            self.load_compiled(compiled, on_stale=on_stale)

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

    # -- compiling

    def compile_source(self, source: str, name: str | None = None,
                       filename: str | None = None) -> str:
        """The Python module source of a compiled template (what precompiling writes)."""
        return self._compile(self.jinja, source, name, filename)[0]

    def _compile(self, jenv: jinja2.Environment, source: str, name: str | None,
                 filename: str | None) -> tuple[str, dict[str, str]]:
        """(module source, {source name: sha256} of every source compiled from)."""
        # Imported on first compile, not to break a cycle (there is none: compiler and codegen
        # never import this module) but so that loading precompiled templates stays cheap.
        from .codegen import generate
        from .compiler import Compiler

        ir = Compiler(jenv, name, filename).compile(source)
        return generate(ir), ir.dependencies

    def load_module_source(self, module_source: str, name: str | None = None,
                           filename: str | None = None,
                           loader: jinja2.BaseLoader | None = None) -> Template:
        namespace: dict[str, Any] = {"__name__": f"lt_engine.compiled.{name or 'string'}"}
        code = compile(module_source, filename or f"<lt_engine {name or 'string'}>", "exec")
        exec(code, namespace)
        desc = namespace["build"](self.jinja, Runtime)
        return Template(self, desc, module_source, name,
                        dependencies=namespace.get("DEPENDENCIES"), loader=loader)

    def from_string(self, source: str, name: str | None = None) -> Template:
        return self.load_module_source(self.compile_source(source, name), name)

    def get_template(self, name: str) -> Template:
        """A precompiled template of that name, else load, compile and cache it from the loader
        (recompiled when its source changes)."""
        compiled = self._compiled.get(name)
        if compiled is not None:
            return compiled
        if self.jinja.loader is None:
            raise jinja2.TemplateNotFound(name, "the environment has no loader")
        cached = self._cache.get(name)
        if cached is not None and cached[1]():
            return cached[0]
        loader = self.jinja.loader
        source, filename, uptodate = loader.get_source(self.jinja, name)
        template = self.load_module_source(self.compile_source(source, name, filename), name,
                                           loader=loader)
        self._cache[name] = (template, uptodate or (lambda: True))
        return template

    def compile_from(self, loader: jinja2.BaseLoader, name: str) -> Template:
        """Compile template ``name`` from ``loader`` (its includes too), whatever this
        environment's own loader is; nothing is cached."""
        jenv = self.jinja if loader is self.jinja.loader else self.jinja.overlay(loader=loader)
        source, filename, _ = loader.get_source(jenv, name)
        module = self._compile(jenv, source, name, filename)[0]
        return self.load_module_source(module, name, filename, loader=loader)

    def reload(self, template: Template) -> Template:
        """``template`` compiled again from its current source, e.g. after the file was edited.

        The new template replaces the old one in this environment (``get_template`` returns it);
        raises what compiling raises (:class:`~lt_engine.CompileError`, ``TemplateNotFound``).
        """
        if template.loader is None or template.name is None:
            raise ValueError(
                f"template {template.name or '<string>'!r} was made from a string: it has no"
                " source file to reload"
            )
        fresh = self.compile_from(template.loader, template.name)
        if template.name in self._compiled:
            self._compiled[template.name] = fresh
        elif template.name in self._cache:
            uptodate = self._cache[template.name][1]
            self._cache[template.name] = (fresh, uptodate)
        return fresh

    # -- precompiled templates

    def load_compiled(self, path: str | os.PathLike[str], *, on_stale: Stale = "error",
                      source_dir: str | os.PathLike[str] | None = None) -> dict[str, Template]:
        """Load a directory written by ``livetemplate compile``; returns ``{name: Template}``.

        Names are the templates' paths relative to the source directory (``"counter.html"``,
        ``"partials/nav.html"``); ``get_template`` returns them from now on.  When the source
        directory (recorded relative to ``path``, or ``source_dir``) exists, each template's
        recorded source hashes are checked against it; a template whose sources changed is
        stale: ``on_stale="error"`` raises :class:`~lt_engine.precompiled.StaleTemplateError`
        naming it, ``"recompile"`` compiles it from source on first use (dev mode),
        ``"ignore"`` loads it as it is.  Raises
        :class:`~lt_engine.precompiled.PrecompiledError` when the directory is not a compiled
        one, or was compiled by another format version or with other jinja2 options.
        """
        loaded = load_dir(self.jinja, Path(path), on_stale=on_stale,
                          source_dir=Path(source_dir) if source_dir is not None else None)
        templates = {
            name: Template(self, item.desc, None, name, dependencies=item.dependencies,
                           loader=item.loader, module_path=item.module_path,
                           deferred=None if item.desc is not None else
                           self._compile_later(item.loader, name))
            for name, item in loaded.items()
        }
        self._compiled.update(templates)
        return templates

    def _compile_later(self, loader: jinja2.BaseLoader | None, name: str
                       ) -> Callable[[], Template]:
        # Compiled on first use, not now: filters registered after loading are known by then.
        assert loader is not None
        return lambda: self.compile_from(loader, name)
