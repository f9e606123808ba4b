"""A page's view of one open connection: a non-blocking ``deliver`` of encoded messages.

Updates are encoded once per page and handed to every connection of the page; each WebSocket
connection has its own bounded queue and writer task, so one slow client never delays the others
(or the action that produced the update). A client that falls ``send_queue`` messages behind is
closed with a reason; on reconnect it gets a full tree again.

The reply to a connection's own action skips the queue: while the connection's reader runs the
action, what is delivered to it is kept and sent by the reader itself right after,
saving a task switch per action (``begin_direct``/``end_direct``).  Order is kept: once anything waits in the queue, everything
after it does too, and every send holds one lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from starlette.websockets import WebSocket

from . import protocol

logger = logging.getLogger("livetemplate")


class Connection(Protocol):
    def deliver(self, text: str) -> None:
        """Queue one encoded message; must not block."""


class WebSocketConnection:
    def __init__(self, websocket: WebSocket, max_queue: int) -> None:
        self.websocket = websocket
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=max_queue)
        self._close: tuple[int, str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._max_queue = max_queue
        self._send_lock = asyncio.Lock()
        self._direct: list[str] | None = None  # messages the reader sends itself, in order

    def start(self) -> None:
        self._writer = asyncio.ensure_future(self._write())

    def deliver(self, text: str) -> None:
        if self._close is not None:
            return
        direct = self._direct
        if direct is not None and (direct or (self._queue.empty()
                                              and not self._send_lock.locked())):
            if len(direct) < self._max_queue:
                direct.append(text)
                return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            reason = "client too slow: updates were dropped; reconnect to get the full page"
            while not self._queue.empty():  # nothing queued is worth sending any more
                self._queue.get_nowait()
            self.close(protocol.close_code("slow_consumer") or 1013, reason, "slow_consumer")

    def close(self, code: int, reason: str, error_code: str | None = None) -> None:
        """Send an error message (if ``error_code``), then close with ``code`` and ``reason``."""
        if self._close is not None:
            return
        if error_code is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(protocol.dumps(protocol.error_message(error_code, reason)))
        self._close = (code, reason)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)

    @property
    def closing(self) -> bool:
        return self._close is not None

    def begin_direct(self) -> None:
        """Before handling this connection's own message: keep its replies to send inline."""
        self._direct = []

    async def end_direct(self) -> None:
        """After it (also when it failed): send what was kept, in order."""
        texts, self._direct = self._direct, None
        if texts and self._close is None:
            async with self._send_lock:
                try:
                    for text in texts:
                        await self.websocket.send_text(text)
                except Exception:  # the peer went away; the reader sees the disconnect
                    logger.debug("livetemplate: direct send failed", exc_info=True)

    async def _write(self) -> None:
        try:
            while True:
                text = await self._queue.get()
                if text is None:
                    break
                async with self._send_lock:
                    await self.websocket.send_text(text)
            if self._close is not None:
                code, reason = self._close
                await self.websocket.close(code=code, reason=_close_reason(reason))
        except Exception:  # the peer went away; the reader sees the disconnect and cleans up
            logger.debug("livetemplate: writer stopped", exc_info=True)

    async def finish(self) -> None:
        """Flush what is queued (when the writer is alive) and stop the writer."""
        if self._writer is None:
            return
        if not self._writer.done():
            with contextlib.suppress(asyncio.QueueFull):
                self._queue.put_nowait(None)
            try:
                await asyncio.wait_for(asyncio.shield(self._writer), timeout=1.0)
            except (asyncio.TimeoutError, Exception):
                self._writer.cancel()


def _close_reason(reason: str) -> str:
    # WebSocket close reasons are limited to 123 bytes of UTF-8.
    data = reason.encode()
    if len(data) <= 123:
        return reason
    return data[:120].decode(errors="ignore") + "..."
