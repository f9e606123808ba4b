"""Test live pages without a browser or a server: mount, send actions, read HTML and updates.

>>> from livetemplate.testing import mount
>>> view = mount(app, "counter", Counter())
>>> view.send("increment")["tree"]
{'0': '1'}
>>> "1" in view.html
True

A :class:`LiveView` is attached to its page like a browser tab: it receives the full tree first,
then every update of the page (its own actions, other tabs', ``page.update()`` from the server),
and applies each to its copy of the tree exactly as the browser client does, so ``view.html`` is
what the user would see.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any

import lt_engine
from lt_engine.components import cid_of

from . import protocol
from .app import Application
from .errors import LiveTemplateError
from .navigation import change_url
from .page import Page


class LiveView:
    def __init__(self, app: Application, page: Page) -> None:
        self.app = app
        self.page = page
        self.tree: dict[str, Any] = {}
        self.messages: list[dict[str, Any]] = []  # every message received, decoded
        self._loop: asyncio.AbstractEventLoop | None = None
        page.attach(self)

    # The Connection protocol: what the page calls for each message.
    def deliver(self, text: str) -> None:
        message = json.loads(text)
        self.messages.append(message)
        tree = message.get(protocol.TREE)
        if tree is None:
            return
        if not self.tree or protocol.TREE in message and "s" in tree:
            self.tree = tree
        else:
            lt_engine.apply_update(self.tree, tree)

    @property
    def html(self) -> str:
        """The HTML of the client's copy of the tree (the live part of the page)."""
        return lt_engine.to_html(self.tree)

    @property
    def updates(self) -> list[dict[str, Any]]:
        """The ``tree`` of every update received after the first full tree."""
        trees = [m[protocol.TREE] for m in self.messages if protocol.TREE in m]
        return trees[1:]

    @property
    def meta(self) -> dict[str, Any]:
        """The ``meta`` of the last update received."""
        for message in reversed(self.messages):
            if protocol.META in message:
                return message[protocol.META]
        return {}

    @property
    def errors(self) -> dict[str, str]:
        return dict(self.meta.get("errors", {}))

    async def asend(self, action: str, data: dict[str, Any] | None = None,
                    **fields: Any) -> dict[str, Any]:
        """Send an action as the client would; returns the reply (update, or error message)."""
        message = {"type": "action", "action": action, "data": {**(data or {}), **fields}}
        return await self.app.handle_action(self.page, protocol.dumps(message), origin=self)

    async def asend_to(self, component: Any, action: str, data: dict[str, Any] | None = None,
                       **fields: Any) -> dict[str, Any]:
        """Send an action to a component of the page, as its ``lvt-target`` would."""
        message = {"type": "action", "action": action, "data": {**(data or {}), **fields},
                   protocol.TARGET: cid_of(component)}
        return await self.app.handle_action(self.page, protocol.dumps(message), origin=self)

    def send(self, action: str, data: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """``asend`` for synchronous tests (in ``async`` tests, ``await view.asend(...)``)."""
        return self._run(self.asend(action, data, **fields), "asend")

    def send_to(self, component: Any, action: str, data: dict[str, Any] | None = None,
                **fields: Any) -> dict[str, Any]:
        """``asend_to`` for synchronous tests."""
        return self._run(self.asend_to(component, action, data, **fields), "asend_to")

    async def apatch(self, url: str) -> dict[str, Any]:
        """What a ``lvt-patch`` link or the back button sends: the page's ``handle_params`` runs
        for ``url``; returns the reply (update, or error message)."""
        try:
            return await change_url(self.page, url, origin=self)
        except LiveTemplateError as exc:
            return protocol.error_message(exc.code, exc.message)

    def patch(self, url: str) -> dict[str, Any]:
        """``apatch`` for synchronous tests."""
        return self._run(self.apatch(url), "apatch")

    def _run(self, step: Coroutine[Any, Any, dict[str, Any]], name: str) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            step.close()
            raise RuntimeError(f"an event loop is running here: use `await view.{name}(...)`")
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(step)

    def close(self) -> None:
        """Detach from the page (like closing the tab)."""
        self.page.detach(self)
        if self._loop is not None:
            self._loop.close()
            self._loop = None

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def mount(app: Application, page_or_name: Page | str, data: Any = None) -> LiveView:
    """A :class:`LiveView` on a new page of template ``name`` (with ``data``: a mapping or a
    data model), or on an existing ``Page`` (a second view of it is a second tab)."""
    page = page_or_name if isinstance(page_or_name, Page) else app.new_page(page_or_name, data)
    return LiveView(app, page)
