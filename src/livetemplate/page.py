"""A live page: its record (data, model, errors), its mounted slot tree and its connections.

Every change goes the same way — apply it to the data, ``Mount.update`` for the minimal diff,
encode once, hand the text to every connection — with no ``await`` in between, so every
connection of a page sees the same updates in the same order.

On a shared store (Redis) the page is one of several copies, one per process that serves it:
its actions and pushes go through ``livetemplate.shared``, which keeps the copies in step.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

import lt_engine
from lt_engine import track

from . import components, flash, navigation, protocol
from .actions import (
    ActionContext,
    find_actions,
    is_pending,
    model_data,
    resolve_action,
    start_action,
)
from .connection import Connection
from .errors import ClientError, LiveTemplateError, RenderError, ValidationError
from .html import inject
from .store import PageRecord
from .tokens import cookie_path
from .uploads import UPLOADS_NAME

if TYPE_CHECKING:
    from .app import Application
    from .shared import Stored

ERRORS_NAME = "errors"  # the template name under which validation errors are shown

logger = logging.getLogger("livetemplate")


class Page:
    def __init__(self, app: Application, record: PageRecord, template: lt_engine.Template) -> None:
        self.app = app
        self.record = record
        self._take(record.data, record.model)
        self._template = template
        self._connections: list[Connection] = []
        self._lock = asyncio.Lock()
        self._stale = False  # a template error left the mount part old, part new
        self._sync: Stored | None = None  # on a shared store (Redis): what is stored of it
        self._mount = self._remount()

    def __repr__(self) -> str:
        return f"<livetemplate.Page {self.template_name} {self.id}>"

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def template_name(self) -> str:
        return self.record.template

    @property
    def data(self) -> dict[str, Any]:
        return self.record.data

    @property
    def model(self) -> Any:
        return self.record.model

    @property
    def errors(self) -> dict[str, str]:
        return self.record.errors

    @property
    def connections(self) -> int:
        return len(self._connections)

    # --- tokens -----------------------------------------------------------------------------

    def get_token(self) -> str:
        """A freshly signed token for this page (valid for ``Limits.token_max_age``)."""
        return self.app.tokens.sign(self.id)

    @property
    def token(self) -> str:
        return self.get_token()

    def verify_token(self, token: str) -> None:
        """Raise a :class:`~livetemplate.PageLookupError` unless ``token`` is valid for this page."""
        self.app.tokens.verify(token, self.id)

    # --- data model ---------------------------------------------------------------------------

    def register_data_model(self, model: Any) -> None:
        """Use ``model``'s public attributes as template data and its public methods as actions."""
        if model is None or isinstance(model, (Mapping, str, bytes, int, float, list, tuple)):
            raise TypeError(
                "a data model is an object whose public methods are actions; pass plain data"
                " to app.new_page(name, data) instead"
            )
        if self._sync is not None:
            self.app.shared.check(model)  # type: ignore[union-attr]  # unstorable: fail here
        self._take(self.record.data, model)
        self.update()

    @property
    def actions(self) -> list[str]:
        return sorted(find_actions(self.model)) if self.model is not None else []

    # --- rendering ----------------------------------------------------------------------------

    @property
    def tree(self) -> dict[str, Any]:
        """The full tree, statics included: what a (re)connecting client gets first."""
        return self._mount.tree

    def html(self) -> str:
        return self._mount.html()

    def tree_message(self) -> dict[str, Any]:
        """``{"tree": full tree, "meta": {...}}``: the first message of every connection."""
        return protocol.tree_message(self._mount.tree, {"errors": dict(self.errors)})

    def serve_http(self, request: Request, data: Mapping[str, Any] | None = None) -> HTMLResponse:
        """The page's HTML with its token ``<meta>`` (and the client ``<script>`` if missing).

        Also sets the token cookie, so a WebSocket or a later ``GET`` from the same browser finds
        this page through ``app.get_page``. ``data``, when given, is applied first (as ``update``).
        """
        if data is not None:
            self.update(data)
        carried_flash = navigation.enter(self, request)  # handle_params, the carried flash
        app = self.app
        token = self.get_token()
        html = inject(self._mount.html(), token, app.client_path, app.live_url)
        try:
            body = html.encode()
        except UnicodeEncodeError:  # a lone surrogate in the data: see protocol.utf8_safe
            body = protocol.utf8_safe(html).encode()
        if self._sync is None:
            response = HTMLResponse(body)
        else:  # sent once the page is stored, so every worker can find it by this token
            response = StoredHTMLResponse(body)
            response.page = self
        # The body embeds a token: keep it out of shared caches.
        response.headers["Cache-Control"] = "no-store"
        path = request.url.path
        response.set_cookie(
            app.cookie_for(path), token, max_age=int(app.limits.token_max_age),
            path=cookie_path(path),
            httponly=True, samesite="lax", secure=request.url.scheme == "https",
        )
        if carried_flash:  # shown now: once
            response.delete_cookie(flash.COOKIE, path="/")
        app.touch(self)
        return response

    # --- changes ----------------------------------------------------------------------------

    def update(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> dict[str, Any]:
        """Apply new values (if any), send the minimal update to every connection, return it.

        Call it after changing the data or the model outside an action (a background task,
        another page's action); it sends nothing when nothing visible changed.
        """
        self._assign(data)
        self._assign(values)
        diff = self._rerender()
        if diff:
            self._broadcast(protocol.tree_message(diff, {}), None)
        if self._sync is not None:
            self.app.shared.changed(self)  # type: ignore[union-attr]  # stored behind
        return diff

    def render_local(self) -> dict[str, Any]:
        """Send the connections in this process the diff of what changed outside the page's
        data — its uploads' state, kept in this process only — and return it; nothing is
        stored (``update`` would store the page again on a shared store)."""
        diff = self._rerender()
        if diff:
            self._broadcast(protocol.tree_message(diff, {}), None)
        return diff

    async def push(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> dict[str, Any]:
        """``update`` for async code, then a yield so the connections' writers send it.

        Safe inside an action of the same page: updates are atomic (no ``await`` between the diff
        and the hand-over to connections), so no lock is needed for the order of messages.
        On a shared store (Redis) the values are assigned under the page's lock to its newest
        stored state, stored, and sent to the page's connections in every process; don't call it
        from inside an action of the same page there (the action holds that lock).
        """
        if self._sync is not None:
            return await self.app.shared.push(self, data, values)  # type: ignore[union-attr]
        diff = self.update(data, **values)
        await asyncio.sleep(0)
        return diff

    def push_event(self, name: str, payload: Any = None) -> None:
        """Send the server event ``name`` with ``payload`` (JSON data) to every client of this
        page connected to this process; their hooks receive it (``handleEvent``)."""
        text = protocol.dumps(protocol.events_message([protocol.event(name, payload)]))
        for connection in list(self._connections):
            connection.deliver(text)

    async def run_action(self, action: str, data: Mapping[str, Any],
                         origin: Connection | None = None,
                         target: str | None = None, *,
                         call: Callable[..., Any] | None = None) -> dict[str, Any]:
        """Run one action and send the update; returns ``{"tree": update, "meta": {...}}``.

        ``origin`` gets the reply, ``meta`` included (e.g. that a form was accepted, even when
        the tree is unchanged: ``{}``); every other connection gets a changed tree only.
        ``target`` names a component of the page (``livetemplate.components``): the action is
        its, and only it is re-evaluated.
        ``call(model, ctx)``, when given, runs instead of the model's method ``action`` (the
        framework's own steps that run as actions: ``navigation``'s URL changes).
        """
        model = self.model if target is None else components.resolve(self._mount, target)
        func = call or resolve_action(model, action)
        if func is None:
            actions = self.actions if target is None else sorted(find_actions(model))
            known = ", ".join(actions) or "none: register a data model with public methods"
            owner = f"page {self.template_name!r}" if target is None else f"component {target!r}"
            raise ClientError(
                "unknown_action",
                f"{owner} has no action {action!r}; its actions: {known}",
            )
        if self._sync is not None and target is not None:
            raise ClientError("bad_message", "component actions need the in-process page store")
        if self._sync is not None:  # a shared store: the action runs under the store's lock
            return await self.app.shared.run_action(  # type: ignore[union-attr]
                self, func, action, data, origin)
        ctx = ActionContext(self, action, data)
        # The lock keeps actions of one page from interleaving at an ``await``. A sync action
        # has none, so it needs the lock only to wait for an async action already running.
        lock = self._lock
        held = False
        if lock.locked():
            await lock.acquire()
            held = True
        try:
            try:
                result = start_action(func, model, ctx)
                if is_pending(result):
                    if not held:  # free, so this takes it without yielding
                        await lock.acquire()
                        held = True
                    result = await self._await_action(result, action)
                errors = ctx.errors
            except ValidationError as exc:
                result, errors = None, {**ctx.errors, **exc.errors}
            except BaseException:
                # The action may have changed the model before failing: keep the tree true to it.
                try:
                    self.update()
                except RenderError:
                    pass  # logged; the action's own error is the one to report
                raise
            if target is None:
                meta = self._outcome(ctx, result, errors)
                reply = {protocol.TREE: self._rerender(), protocol.META: meta}
            else:  # a component's action: only it is re-evaluated
                meta = components.outcome(model, ctx, result, errors)
                reply = {protocol.TREE: components.update(self._mount, model), protocol.META: meta}
            self._broadcast(reply, origin)
        finally:
            if held:
                lock.release()
        return reply

    def _outcome(self, ctx: ActionContext, result: Any, errors: Mapping[str, str]) -> dict[str, Any]:
        """After an action: the values it returned assigned, its errors kept for the template;
        returns the reply's ``meta``."""
        if result is not None and isinstance(result, Mapping):
            self._assign(result)
        self.record.errors = errors = dict(errors)
        flash.settle(self.record.data, ctx.flashes)
        meta = {"action": ctx.action, "success": not errors, "errors": dict(errors)}
        navigation.outcome_meta(ctx, meta)
        if ctx.events:
            meta[protocol.EVENTS] = ctx.events
        return meta

    async def _await_action(self, pending: Any, action: str) -> Any:
        """Await an async action, cancelled after ``Limits.action_timeout`` seconds.

        Only async actions can be timed out: a sync action that blocks holds the event loop.
        """
        timeout = self.app.limits.action_timeout
        if timeout is None:
            return await pending
        try:
            return await _within(pending, timeout)
        except _Expired:
            logger.warning("livetemplate: action %r on page %s cancelled after %g s"
                           " (Limits.action_timeout)", action, self.template_name, timeout)
            raise ClientError(
                "action_timeout",
                f"action {action!r} did not finish within {timeout:g} s and was cancelled; the"
                " page shows what it changed before (Limits.action_timeout)",
            ) from None

    def _rerender(self) -> dict[str, Any]:
        """``Mount.update`` to the current data, or a full re-mount after a template error.

        The engine advances a mount slot by slot: a filter that raises half-way leaves it part
        old, part new, and later diffs would miss what it skipped. Such a mount is never diffed
        again: the page mounts its data afresh (now, or at its next change while the data still
        fails) and sends the whole tree, which clients merge as an update replacing every slot.
        Until then connected clients keep their last good tree and new ones get the stale one.
        """
        failure: Exception | None = None
        if not self._stale:
            try:
                return self._mount.update(self._view())
            except Exception as exc:
                self._stale = True
                failure = exc
        mount = self._remount()  # raises RenderError (and logs) while the data still fails
        if failure is not None:
            logger.warning("livetemplate: template %r failed to update, but renders when mounted"
                           " afresh; sent the whole tree", self.template_name, exc_info=failure)
        return mount.tree

    def _remount(self) -> lt_engine.Mount:
        try:
            mount = self._template.mount(self._view())
        except Exception as exc:
            self._stale = True
            logger.exception("livetemplate: template %r failed to render", self.template_name)
            raise RenderError(
                f"template {self.template_name!r} raised {type(exc).__name__} while rendering"
                " the page's data (the server log has the traceback); the page keeps its last"
                " good view until its data renders again"
            ) from exc
        self._mount = mount
        self._stale = False
        return mount

    def remount(self, template: lt_engine.Template) -> None:
        """Mount ``template`` (a new version of this page's template) on the page's current data
        and send every connection the full tree, which replaces theirs (dev-mode reload)."""
        self._template = template
        self._remount()  # raises RenderError when the data does not render with the new template
        if self._connections:
            text = protocol.dumps(self.tree_message())
            for connection in list(self._connections):
                connection.deliver(text)

    # --- connections --------------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        """Send the full tree to ``connection``, then every later update of this page."""
        connection.deliver(protocol.dumps(self.tree_message()))
        self._connections.append(connection)

    def detach(self, connection: Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
            if self._sync is not None:
                self.app.shared.detached(self)  # type: ignore[union-attr]

    async def connect(self, connection: Connection) -> None:
        """``attach`` for async code. On a shared store (Redis) it first waits until the page
        is stored, subscribes to its changes in other processes and catches up with them."""
        if self._sync is None:
            self.attach(connection)
        else:
            await self.app.shared.attach(self, connection)  # type: ignore[union-attr]

    async def flush(self) -> None:
        """Wait until what sync code did to the page (``new_page``, ``update``) is stored.

        Nothing to wait for in the in-process store; on a shared store raises what went wrong
        (``StoreUnavailable``, ``PageConflict``).
        """
        if self._sync is not None:
            await self.app.shared.flush(self)  # type: ignore[union-attr]

    def _broadcast(self, message: dict[str, Any], origin: Connection | None) -> None:
        """``message`` to ``origin``; its tree, if changed, to every other connection.

        An action's ``meta`` (its name, success, errors) answers the connection that sent it:
        another tab must not take it for the reply to an action of its own.
        """
        connections = self._connections
        if origin is not None and origin not in connections:
            origin = None
        if not message[protocol.TREE]:
            if origin is not None:
                origin.deliver(protocol.dumps(message))
            return
        text = protocol.dumps(message)
        others = text
        if origin is not None and message[protocol.META] and len(connections) > 1:
            others = protocol.dumps({protocol.TREE: message[protocol.TREE], protocol.META: {}})
        for connection in list(connections):
            connection.deliver(text if connection is origin else others)

    # --- data ---------------------------------------------------------------------------------

    def _take(self, data: dict[str, Any], model: Any) -> None:
        """The one place a page's data and data model enter it: made (``new_page``), rebuilt or
        loaded from a store, or registered (``register_data_model``).

        Tracked by default (``Application(track_data=...)``): the data becomes a TrackedDict of
        tracked values, and the model is tracked in place (its class reports attribute
        assignment; values assigned to it, in actions too, are tracked as they land)."""
        record = self.record
        if self.app.track_data:
            # The dict itself stays the caller's (the engine re-reads top-level names anyway);
            # its values become tracked, in place.
            for name, value in data.items():
                tracked = track(value)
                if tracked is not value:
                    data[name] = tracked
            if not isinstance(model, dict):
                model = track(model)
        record.data = data
        record.model = model

    def _view(self) -> dict[str, Any]:
        view = dict(self.record.data)
        view.update(model_data(self.record.model))
        view[ERRORS_NAME] = self.record.errors
        uploads = self.app.uploads.view(self)
        if uploads is not None:  # the model declares uploads: their entries and errors
            view[UPLOADS_NAME] = uploads
        view[flash.FLASH] = flash.view(self.record.data)
        return view

    def _assign(self, values: Mapping[str, Any] | None) -> None:
        # New values land on the model when it has that attribute, else in the page's data.
        if not values:
            return
        model = self.record.model
        for name, value in values.items():
            if (model is not None and not name.startswith("_") and hasattr(model, name)
                    and not callable(getattr(model, name))):
                setattr(model, name, value)
            else:
                self.record.data[name] = track(value) if self.app.track_data else value


class StoredHTMLResponse(HTMLResponse):
    """``serve_http``'s response on a shared store: waits for the page to be stored first, so
    the browser never holds a token another worker cannot find yet."""

    page: Page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.page.flush()
        except LiveTemplateError as exc:
            logger.warning("livetemplate: page %s not served: %s", self.page.id, exc.message)
            response: Response = Response(
                exc.message, status_code=protocol.http_status(exc.code), media_type="text/plain")
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _Expired(Exception):
    """The action timeout ran out (not a ``TimeoutError`` the action raised itself)."""


class _OwnTimeout(Exception):
    """A ``TimeoutError`` the action raised itself (``__cause__``), told apart on Python 3.10."""


async def _own_timeouts(awaitable: Any) -> Any:
    try:
        return await awaitable
    except asyncio.TimeoutError as exc:
        raise _OwnTimeout from exc


async def _within(awaitable: Any, seconds: float) -> Any:
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # Python 3.10: a task of its own
        try:
            return await asyncio.wait_for(_own_timeouts(awaitable), seconds)
        except asyncio.TimeoutError:
            raise _Expired from None
        except _OwnTimeout as exc:
            raise exc.__cause__ from None  # type: ignore[misc]
    scope = timeout(seconds)
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        if scope.expired():
            raise _Expired from None
        raise
