"""Live navigation: the URL as page state, and moving between live pages without a reload.

Three ways to go somewhere, as in Phoenix LiveView:

- **patch**: the same page, a new URL. A ``lvt-patch`` link, the back and forward buttons, or an
  action's ``ctx.patch(url)`` make the client push the URL (``history.pushState``) and send
  ``{"type": "params", "url": "/?filter=done"}``. The page runs its data model's
  ``handle_params(params, ctx)`` for it like an action (same lock, timeout, errors and store)
  and every connection gets the usual minimal update. ``page.serve_http`` calls the same method
  with the request's URL, so a reload, a shared link or a page without JavaScript shows the
  same state.
- **navigate**: another live page of the same app, over the same WebSocket, no reload. The
  client fetches the URL (the app's own HTTP handler makes or finds the page and serves it with
  its token), pushes the URL and sends ``{"type": "join", "token": …}``: the connection moves to
  that page, which sends its full tree. A join is checked like a connect with that token, and
  refused the same way (an error, then the close).
- **redirect**: a full page load, for anything else (another app, another site, a login).

An action's choice travels in its reply's ``meta`` (``patch``/``navigate``/``redirect``, and
``replace`` for ``history.replaceState``), with the flash it leaves for a page loaded next
(``meta.flash``, see ``livetemplate.flash``). The client falls back to a full load wherever live
navigation cannot work (no open WebSocket, a page of another endpoint, a fetch that failed).
"""

from __future__ import annotations

import inspect
import json
import logging
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from starlette.datastructures import QueryParams
from starlette.requests import HTTPConnection

from . import flash, protocol
from .actions import PARAMS_HOOK, ActionContext, is_pending, start_action
from .errors import ClientError, LiveTemplateError, ValidationError

if TYPE_CHECKING:
    from .connection import WebSocketConnection
    from .page import Page

logger = logging.getLogger("livetemplate")


class Pages(Protocol):
    """What a join needs of the application (``livetemplate.Application`` is one)."""

    async def load_page(self, conn_or_token: str) -> Page: ...

    def touch(self, page: Page) -> None: ...


# The shipped client writes "type" first: its actions skip the look for a navigation message.
_ACTION_PREFIX = '{"type":"action"'
_MARKS = (f'"{protocol.TYPE_PARAMS}"', f'"{protocol.TYPE_JOIN}"')
_TYPES = (protocol.TYPE_PARAMS, protocol.TYPE_JOIN)


def query_params(url: str) -> QueryParams:
    """The query of ``url`` as ``handle_params`` gets it: an immutable multi-dict
    (``params.get("page")``, ``params.getlist("tag")``)."""
    return QueryParams(urlsplit(url).query)


def request_url(conn: HTTPConnection) -> str:
    """The path and query the browser shows for ``conn``: what a ``params`` message sends."""
    url = conn.url
    return f"{url.path}?{url.query}" if url.query else url.path


def _handle_params(model: Any, ctx: ActionContext) -> Any:
    """The action a URL change runs (``ctx.data`` holds the URL): the model's ``handle_params``
    with the query, ``ctx.data`` the query's last values (so ``ctx.get_int("page", 1)`` works).

    The flash that shows stays: a URL change is not an action of the user's to hide it."""
    url = ctx.data[protocol.URL]
    params = query_params(url)
    ctx.url, ctx.data = url, dict(params)
    for kind, message in flash.view(ctx.page.record.data).items():
        ctx.flashes.setdefault(kind, message)
    hook = getattr(model, PARAMS_HOOK, None) if model is not None else None
    return hook(params, ctx) if callable(hook) else None


async def change_url(page: Page, url: str, origin: Any = None) -> dict[str, Any]:
    """The page's URL is now ``url`` (a path on this site, checked): its ``handle_params`` runs
    as an action and the update goes out; returns the reply as ``page.run_action`` does."""
    problem = protocol.url_problem(url)
    if problem is not None:
        raise ClientError("bad_message", f'"url" of a params message: {problem}')
    return await page.run_action(PARAMS_HOOK, {protocol.URL: url}, origin, call=_handle_params)


def enter(page: Page, request: HTTPConnection) -> bool:
    """Before ``serve_http`` renders: the flash the request carries replaces the page's, then
    ``handle_params`` sees the request's URL (when the model has one; it may flash too). Returns
    whether the request carried the flash cookie, which the response deletes."""
    shown = page.record.data.get(flash.FLASH)
    carried = flash.from_request(page, request)
    model = page.model
    ran = model is not None and callable(getattr(model, PARAMS_HOOK, None))
    if ran:
        ctx = ActionContext(page, PARAMS_HOOK, {protocol.URL: request_url(request)})
        try:
            result = start_action(_handle_params, model, ctx)
            errors = ctx.errors
        except ValidationError as exc:
            result, errors = None, {**ctx.errors, **exc.errors}
        if is_pending(result):
            if inspect.iscoroutine(result):
                result.close()
            raise TypeError(
                f"{type(model).__name__}.{PARAMS_HOOK} is async, and page.serve_http (sync)"
                " cannot await it: make it a plain method, and load what it needs in the HTTP"
                " handler or in an action")
        page._outcome(ctx, result, errors)
    if ran or page.record.data.get(flash.FLASH) != shown:
        page.update()
    return carried


def outcome_meta(ctx: ActionContext, meta: dict[str, Any]) -> None:
    """Add to an action's reply ``meta`` where the client goes next (none when the action's
    validation failed), and the flash it carries to a page it loads."""
    if ctx.goto is None or not meta.get("success"):
        return
    kind, url, replace = ctx.goto
    meta[kind] = url
    if replace:
        meta[protocol.REPLACE] = True
    if kind != protocol.PATCH and ctx.flashes:
        meta[protocol.FLASH] = ctx.page.app.flash_signer.sign(ctx.flashes)


# --- the WebSocket messages -----------------------------------------------------------------

def message(raw: str | bytes) -> dict[str, Any] | None:
    """The decoded message when ``raw`` is a navigation message (``params`` or ``join``), else
    ``None`` — an action, or something ``app.handle_action`` refuses with the reason. Cheap for
    actions: most are told by their first characters, the rest by a substring test."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode()
        except UnicodeDecodeError:
            return None
    if raw.startswith(_ACTION_PREFIX) or not any(mark in raw for mark in _MARKS):
        return None
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if isinstance(decoded, dict) and decoded.get(protocol.TYPE) in _TYPES:
        return decoded
    return None


async def receive(app: Pages, page: Page, msg: dict[str, Any],
                  conn: WebSocketConnection) -> Page:
    """Handle a navigation message of ``conn``, attached to ``page``; returns the page it is
    attached to afterwards. A bad message gets an error and touches no page; a join that
    cannot be made closes the connection, as a connect with that token would be refused."""
    try:
        if msg[protocol.TYPE] == protocol.TYPE_JOIN:
            token = msg.get(protocol.TOKEN)
            if not isinstance(token, str) or not token:
                raise ClientError("bad_message", '"token" of a join message must be the page'
                                                 " token string of the page to join")
            try:
                return await join(app, page, token, conn)
            except LiveTemplateError as exc:
                conn.close(protocol.close_code(exc.code) or 1008, exc.message, exc.code)
                return page
        await change_url(page, msg.get(protocol.URL), conn)  # type: ignore[arg-type]
    except LiveTemplateError as exc:
        conn.deliver(protocol.dumps(protocol.error_message(exc.code, exc.message)))
    except Exception:
        logger.exception("livetemplate: handle_params failed on page %s", page.template_name)
        conn.deliver(protocol.dumps(protocol.error_message(
            "action_failed", "handle_params failed on the server (the server log has the"
                             " traceback); the page is unchanged where it did not change it")))
    return page


async def join(app: Pages, page: Page, token: str, conn: WebSocketConnection) -> Page:
    """Move ``conn`` from ``page`` to the page of ``token`` (which sends its full tree first);
    raises a ``PageLookupError`` (or a store's error) and leaves ``conn`` where it was when the
    token finds no page."""
    target = await app.load_page(token)
    page.detach(conn)
    app.touch(page)
    await target.connect(conn)
    return target
