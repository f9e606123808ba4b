"""Dev mode: an edited template is compiled again and swapped into the live pages that show it.

``livetemplate run MODULE:APP --reload`` serves ``dev_app()``: the user's ASGI app, wrapped so
that the server's event loop also runs :func:`watch`.  ``watch`` follows, with ``watchfiles``,
every source file (a template, and what it extends, includes or imports) of the templates of
each :class:`Application` made in dev mode (``livetemplate.app.dev_apps()``).  When one
changes, each template built from it is compiled again (``app.reload_template``) and each live
page of it is re-mounted on its current data; its connections get the new full tree, which the
browser client puts in place of its own without reloading: the page keeps its state.  A
template that no longer compiles is logged (``file:line: message``) and the old one stays in use.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

import jinja2

from .app import Application, dev_apps

logger = logging.getLogger("livetemplate")

APP_ENV = "LIVETEMPLATE_APP"  # the MODULE:APP that dev_app() serves
DEV_ENV = "LIVETEMPLATE_DEV"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def sources(app: Application) -> dict[str, set[str]]:
    """Each source file (a real path) of ``app``'s templates -> the names built from it."""
    files: dict[str, set[str]] = {}
    for name in app.template_names:
        template = app.template(name)
        if template.loader is None:  # made from a string: no file to follow
            continue
        for dependency in template.dependencies:
            try:
                filename = template.loader.get_source(app.env.jinja, dependency)[1]
            except jinja2.TemplateNotFound:
                continue
            if filename is not None:
                files.setdefault(os.path.realpath(filename), set()).add(name)
    return files


def files_changed(paths: Iterable[str], apps: Iterable[Application] | None = None) -> list[str]:
    """Reload every template built from one of ``paths``; returns the names reloaded."""
    changed = {os.path.realpath(path) for path in paths}
    reloaded: list[str] = []
    for app in list(dev_apps() if apps is None else apps):
        names = sorted({name for path, built in sources(app).items() if path in changed
                        for name in built})
        for name in names:
            try:
                count = app.reload_template(name)
            except jinja2.TemplateError as exc:
                # The old template stays in use until the file compiles again.
                logger.error("livetemplate: template %r not reloaded: %s", name, _describe(exc))
                continue
            except Exception:  # never let one bad reload stop the watcher
                logger.exception("livetemplate: template %r not reloaded", name)
                continue
            reloaded.append(name)
            logger.info("livetemplate: reloaded template %r (%d live page%s)", name, count,
                        "" if count == 1 else "s")
    return reloaded


def _describe(exc: jinja2.TemplateError) -> str:
    if isinstance(exc, jinja2.TemplateSyntaxError):  # CompileError too: file:line: message
        return f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


async def watch(apps: Iterable[Application] | None = None, *,
                stop_event: asyncio.Event | None = None) -> None:
    """Follow the template sources of ``apps`` (default: every app in dev mode) and reload
    what changes, until ``stop_event`` is set or the task is cancelled."""
    import watchfiles

    stop = stop_event or asyncio.Event()
    while not stop.is_set():
        chosen = list(dev_apps() if apps is None else apps)
        folders = sorted({os.path.dirname(path) for app in chosen for path in sources(app)})
        if not folders:
            logger.warning("livetemplate: dev mode, but no template files to watch (templates"
                           " made with add_template, or no Application with dev=True)")
            return
        async for changes in watchfiles.awatch(*folders, stop_event=stop, step=50,
                                               rust_timeout=1000):
            files_changed([path for _, path in changes], chosen)
            now = sorted({os.path.dirname(p) for app in chosen for p in sources(app)})
            if now != folders:  # a template now includes a file in another folder
                break


class DevApp:
    """An ASGI app that runs :func:`watch` in the server's event loop beside ``app``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(watch(stop_event=self._stop))
            self._task.add_done_callback(_report_failure)
        if scope["type"] == "lifespan":
            receive = self._on_shutdown(receive)
        await self.app(scope, receive, send)

    def _on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> MutableMapping[str, Any]:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self._stop.set()
            return message

        return wrapped


def _report_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("livetemplate: the template watcher stopped; templates are no longer"
                     " reloaded", exc_info=task.exception())


def load_object(spec: str) -> Any:
    """The object a ``MODULE:ATTR`` string names (``ATTR`` may be dotted)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{spec!r} is not MODULE:ATTR (e.g. myapp.main:app)")
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ValueError(f"no module {module_name!r} (from {spec!r}); run from the folder"
                             " that contains it, or pass --app-dir") from exc
        raise
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attr!r}") from None
    return obj


def dev_app() -> DevApp:
    """The app factory ``livetemplate run --reload`` gives uvicorn: ``$LIVETEMPLATE_APP``,
    imported in dev mode and wrapped in a :class:`DevApp`."""
    spec = os.environ.get(APP_ENV)
    if not spec:
        raise RuntimeError(f"${APP_ENV} is not set: start the server with"
                           " `livetemplate run MODULE:APP --reload`")
    os.environ.setdefault(DEV_ENV, "1")
    return DevApp(load_object(spec))
