"""A live page: its record (data, model, errors), its mounted slot tree and its connections.

Every change goes the same way — apply it to the data, ``Mount.update`` for the minimal diff,
encode once, hand the text to every connection — with no ``await`` in between, so every
connection of a page sees the same updates in the same order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

import lt_engine

from . import protocol
from .actions import ActionContext, call_action, find_actions, model_data, resolve_action
from .connection import Connection
from .errors import ClientError, ValidationError
from .html import inject
from .store import PageRecord

if TYPE_CHECKING:
    from .app import Application

ERRORS_NAME = "errors"  # the template name under which validation errors are shown


class Page:
    def __init__(self, app: Application, record: PageRecord, template: lt_engine.Template) -> None:
        self.app = app
        self.record = record
        self._template = template
        self._connections: list[Connection] = []
        self._lock = asyncio.Lock()
        self._mount = template.mount(self._view())

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
        self.record.model = model
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
        app = self.app
        token = self.get_token()
        response = HTMLResponse(inject(self._mount.html(), token, app.client_path))
        # The body embeds a token: keep it out of shared caches.
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            app.cookie_name, token, max_age=int(app.limits.token_max_age), path="/",
            httponly=True, samesite="lax", secure=request.url.scheme == "https",
        )
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
        diff = self._mount.update(self._view())
        if diff:
            self._broadcast(protocol.tree_message(diff, {}), None)
        return diff

    async def push(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> dict[str, Any]:
        """``update`` for async code, then a yield so the connections' writers send it.

        Safe inside an action of the same page: updates are atomic (no ``await`` between the diff
        and the hand-over to connections), so no lock is needed for the order of messages.
        """
        diff = self.update(data, **values)
        await asyncio.sleep(0)
        return diff

    async def run_action(self, action: str, data: Mapping[str, Any],
                         origin: Connection | None = None) -> dict[str, Any]:
        """Run one action and send the update; returns ``{"tree": update, "meta": {...}}``.

        A changed tree goes to every connection of the page; an unchanged one ({}) only back to
        ``origin`` (it still carries ``meta``, e.g. that a form was accepted).
        """
        func = resolve_action(self.model, action)
        if func is None:
            known = ", ".join(self.actions) or "none: register a data model with public methods"
            raise ClientError(
                "unknown_action",
                f"page {self.template_name!r} has no action {action!r}; its actions: {known}",
            )
        ctx = ActionContext(self, action, data)
        async with self._lock:
            try:
                result = await call_action(func, self.model, ctx)
                errors = ctx.errors
            except ValidationError as exc:
                result, errors = None, {**ctx.errors, **exc.errors}
            except BaseException:
                # The action may have changed the model before failing: keep the tree true to it.
                self.update()
                raise
            if isinstance(result, Mapping):
                self._assign(result)
            self.record.errors = dict(errors)
            meta = {"action": action, "success": not errors, "errors": dict(errors)}
            diff = self._mount.update(self._view())
            reply = protocol.tree_message(diff, meta)
            self._broadcast(reply, origin)
        return reply

    # --- connections --------------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        """Send the full tree to ``connection``, then every later update of this page."""
        connection.deliver(protocol.dumps(self.tree_message()))
        self._connections.append(connection)

    def detach(self, connection: Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)

    def _broadcast(self, message: dict[str, Any], origin: Connection | None) -> None:
        targets = self._connections if message[protocol.TREE] else (
            [origin] if origin is not None and origin in self._connections else []
        )
        if not targets:
            return
        text = protocol.dumps(message)
        for connection in list(targets):
            connection.deliver(text)

    # --- data ---------------------------------------------------------------------------------

    def _view(self) -> dict[str, Any]:
        view = dict(self.record.data)
        view.update(model_data(self.record.model))
        view[ERRORS_NAME] = self.record.errors
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
                self.record.data[name] = value
