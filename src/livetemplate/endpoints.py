"""The ready-made routes: WebSocket endpoint, its HTTP POST fallback, and the client script.

Every refusal is a ``{"type": "error", "code", "message"}`` message; where the connection cannot
go on (bad origin or token, oversized frame, no room for a new page) it is followed by a close
with the code from ``protocol.ERRORS`` and the same reason.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from . import navigation, protocol
from .collector import COLLECTOR
from .connection import Connection, WebSocketConnection, _close_reason
from .errors import ClientError, LiveTemplateError, TokenMissing
from .limits import Limits, RateLimiter, origin_refusal
from .page import Page
from .uploads import MAX_HEADER, Uploads, is_chunk

logger = logging.getLogger("livetemplate")

CLIENT_FILE = Path(__file__).parent / "static" / "livetemplate-client.js"
CHUNK_TYPE = "application/octet-stream"  # a POST body that is an upload chunk frame

# Makes the page of a connection that carries no token (Pattern 1); sync or async.
NewPage = Callable[[HTTPConnection], "Page | Any"]


class Served(Protocol):
    """What the endpoints need of their application: ``livetemplate.Application`` is one, and
    builds its routes here (``app.routes()``), so this module does not import it."""

    limits: Limits
    tune_gc: bool
    client_path: str
    uploads: Uploads

    def token_from(self, conn: HTTPConnection, cookie: bool = True) -> str | None: ...

    async def load_page(self, conn_or_token: HTTPConnection | str,
                        template: str | None = None) -> Page: ...

    async def handle_action(self, page: Page, message: Any,
                            origin: Connection | None = None) -> dict[str, Any]: ...

    def touch(self, page: Page) -> None: ...


def build_routes(app: Served, path: str, new_page: NewPage | None) -> list[BaseRoute]:
    async def websocket_endpoint(websocket: WebSocket) -> None:
        await serve_websocket(app, websocket, new_page)

    async def post_endpoint(request: Request) -> Response:
        return await serve_post(app, request)

    return [
        WebSocketRoute(path, websocket_endpoint),
        Route(path, post_endpoint, methods=["POST"]),
        Route(app.client_path, serve_client, methods=["GET", "HEAD"]),
    ]


async def serve_websocket(app: Served, websocket: WebSocket,
                          new_page: NewPage | None = None) -> None:
    """One WebSocket connection, from upgrade to close (what ``app.routes()`` mounts)."""
    limits = app.limits
    # Accept first, then refuse with a message and a close reason: a refusal before accepting is
    # an HTTP 403 whose reason a browser script cannot read.
    # The shipped client offers the "livetemplate" subprotocol (and its token as another one):
    # a browser drops a connection whose server does not pick one it offered.
    offered = websocket.scope.get("subprotocols") or ()
    await websocket.accept(
        subprotocol=protocol.SUBPROTOCOL if protocol.SUBPROTOCOL in offered else None)
    refusal = origin_refusal(websocket.headers, limits)
    if refusal is not None:
        await _refuse(websocket, "origin", refusal)
        return
    try:
        page, fresh = await _find_or_make_page(app, websocket, new_page)
        conn = WebSocketConnection(websocket, limits.send_queue, limits.send_queue_bytes,
                                   limits.send_timeout)
        if fresh:
            conn.deliver(protocol.dumps(protocol.page_token_message(page.get_token())))
        # Full tree first; on a shared store (Redis) the page is stored and subscribed first.
        await page.connect(conn)
    except LiveTemplateError as exc:
        await _refuse(websocket, exc.code, exc.message)
        return
    if app.tune_gc:
        COLLECTOR.grew()  # a connection lives long: frozen out of the GC's reach with the next
    conn.start()
    limiter = RateLimiter(limits.rate, limits.burst)
    try:
        while not conn.closing:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                break
            raw: str | bytes | None = event.get("text")
            if raw is None:
                raw = event.get("bytes")
            if raw is None:
                continue
            if type(raw) is bytes and is_chunk(raw):  # a file's bytes, not a message
                _chunk(app, page, raw, conn, limiter)
                continue
            # a str of n characters is at most 4n bytes: encode only when that could be too many
            size = len(raw) if isinstance(raw, bytes) or len(raw) * 4 <= limits.max_message_bytes \
                else len(raw.encode())
            if size > limits.max_message_bytes:
                reason = (f"message of {size} bytes exceeds the limit of"
                          f" {limits.max_message_bytes} bytes; send smaller messages")
                conn.close(protocol.close_code("too_large") or 1009, reason, "too_large")
                break
            if not limiter.allow():
                conn.deliver(protocol.dumps(protocol.error_message(
                    "rate_limited",
                    f"more than {limits.rate:g} messages/s (burst {limits.burst}); message"
                    " dropped, slow down",
                )))
                continue
            conn.begin_direct()
            try:
                moving = navigation.message(raw)  # params / join; None for an action
                if moving is not None:
                    page = await navigation.receive(app, page, moving, conn)
                    continue
                reply = await app.handle_action(page, raw, origin=conn)
                if reply.get(protocol.TYPE) == protocol.TYPE_ERROR:
                    conn.deliver(protocol.dumps(reply))
            finally:
                await conn.end_direct()
    except asyncio.CancelledError:
        if not conn.aborted:
            raise
        # The connection dropped a stalled client itself (Limits.send_timeout): end quietly.
        uncancel = getattr(asyncio.current_task(), "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()
    finally:
        page.detach(conn)
        app.uploads.disconnected(conn)  # its unfinished uploads' files go now
        app.touch(page)
        await conn.finish()


def _chunk(app: Served, page: Page, frame: bytes, conn: WebSocketConnection,
           limiter: RateLimiter) -> None:
    """One upload chunk frame. Good chunks are not rate-limited (the announced sizes bound
    them); a refused one counts as a message, answered as one past the rate."""
    try:
        app.uploads.receive(page, frame, conn)
    except ClientError as exc:
        limits, error = app.limits, exc
        if not limiter.allow():
            error = ClientError("rate_limited", f"more than {limits.rate:g} messages/s (burst"
                                f" {limits.burst}); message dropped, slow down")
        conn.deliver(protocol.dumps(protocol.error_message(error.code, error.message)))


async def _find_or_make_page(app: Served, websocket: WebSocket,
                             new_page: NewPage | None) -> tuple[Page, bool]:
    # With new_page, only an explicit token (a reconnecting client resuming its page) finds an
    # existing page: the cookie is ambient, and may belong to another endpoint's page.
    explicit = app.token_from(websocket, cookie=False)
    if explicit is not None and new_page is not None:
        return await app.load_page(explicit), False
    if new_page is None:
        try:
            return await app.load_page(websocket), False
        except TokenMissing as exc:
            raise TokenMissing(
                exc.message + " (this endpoint was mounted without new_page=, so it only serves"
                " pages created over HTTP)"
            ) from None
    page: Any = new_page(websocket)
    if inspect.isawaitable(page):
        page = await page
    return page, True


async def _refuse(websocket: WebSocket, code: str, message: str) -> None:
    # one line per refused connection (never per message: a client could flood the log)
    logger.info("livetemplate: refused a WebSocket from %s: %s: %s",
                websocket.client.host if websocket.client else "?", code, message)
    await websocket.send_text(protocol.dumps(protocol.error_message(code, message)))
    await websocket.close(code=protocol.close_code(code) or 1008, reason=_close_reason(message))


async def serve_post(app: Served, request: Request) -> Response:
    """The HTTP fallback: POST an action message, get ``{"tree": full tree, "meta"}`` back.

    The token must come from the ``X-LiveTemplate-Token`` header, ``?cache_token=`` or the
    message's ``"token"`` — never from the cookie alone, which a cross-site form would send too.
    """
    limits = app.limits
    refusal = origin_refusal(request.headers, limits)
    if refusal is not None:
        return _error_response("origin", refusal)
    if request.headers.get("content-type", "").startswith(CHUNK_TYPE):
        return await _post_chunk(app, request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_message_bytes:
        return _too_large(int(declared), limits.max_message_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_message_bytes:
            return _too_large(len(body), limits.max_message_bytes)
    try:
        message = protocol.parse_message(bytes(body))
        token = app.token_from(request, cookie=False) or message.token
        if token is None:
            raise TokenMissing(
                "no page token: send the X-LiveTemplate-Token header (the content of the page's"
                ' <meta name="livetemplate-token">) or "token" in the message'
            )
        page = await app.load_page(token)
    except (ClientError, LiveTemplateError) as exc:
        return _error_response(exc.code, exc.message)
    reply = await app.handle_action(page, message)
    if reply.get(protocol.TYPE) == protocol.TYPE_ERROR:
        return _json(reply, protocol.http_status(reply[protocol.CODE]))
    # A POST client holds no connection and may have missed updates: give it the whole tree.
    return _json(protocol.tree_message(page.tree, reply[protocol.META]))


async def _post_chunk(app: Served, request: Request) -> Response:
    """An upload chunk frame as a POST body (``application/octet-stream``); the token comes from
    the header or the query. The reply is the whole tree, as for an action."""
    limit = app.limits.upload_chunk + 2 + MAX_HEADER
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _error_response("chunk_too_large", f"a chunk frame of more than {limit}"
                                                      " bytes (Limits.upload_chunk)")
    try:
        token = app.token_from(request, cookie=False)
        if token is None:
            raise TokenMissing("no page token: send the X-LiveTemplate-Token header with a chunk")
        page = await app.load_page(token)
        app.uploads.receive(page, bytes(body), None)
    except (ClientError, LiveTemplateError) as exc:
        return _error_response(exc.code, exc.message)
    return _json(protocol.tree_message(page.tree, {}))


def _json(message: dict[str, Any], status: int = 200) -> Response:
    # protocol.dumps, not JSONResponse's json.dumps: its text always encodes to UTF-8
    return Response(protocol.dumps(message), status_code=status, media_type="application/json")


def _too_large(size: int, limit: int) -> Response:
    return _error_response("too_large", f"body of {size} bytes exceeds the limit of {limit}"
                                        " bytes (Limits.max_message_bytes)")


def _error_response(code: str, message: str) -> Response:
    return _json(protocol.error_message(code, message), protocol.http_status(code))


async def serve_client(request: Request) -> Response:
    if CLIENT_FILE.is_file():
        return FileResponse(CLIENT_FILE, media_type="text/javascript")
    return PlainTextResponse(
        "livetemplate-client.js is not part of this build yet (expected at"
        f" {CLIENT_FILE}); pages render, but stay static until it is added",
        status_code=404,
    )
