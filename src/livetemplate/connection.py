"""A page's view of one open connection: a non-blocking ``deliver`` of encoded messages.

Updates are encoded once per page and handed to every connection of the page; each WebSocket
connection has its own bounded queue and writer task, so one slow client never delays the others
(or the action that produced the update). A client that falls ``send_queue`` messages (or
``send_queue_bytes`` of them) behind is closed with a reason; on reconnect it gets a full tree
again.

The reply to a connection's own action skips the queue: while the connection's reader runs the
action, what is delivered to it is kept and sent by the reader itself right after,
saving a task switch per action (``begin_direct``/``end_direct``).  Order is kept: once anything
waits in the queue, everything after it does too, and every send holds one lock.

A client that stops reading stalls the server's sends once the TCP buffers are full (the server
waits for the socket to drain). A send stalled for ``send_timeout`` seconds drops the connection:
the writer and the reader task are cancelled, so the page forgets it and its queue is freed. The
server's own WebSocket pings cannot do this: their close waits for the same buffer to drain.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from starlette.websockets import WebSocket

from . import protocol

logger = logging.getLogger("livetemplate")

SLOW = "client too slow: updates were dropped; reconnect to get the full page"


class Connection(Protocol):
    def deliver(self, text: str) -> None:
        """Queue one encoded message; must not block."""


class WebSocketConnection:
    # Slots, and a deque with one waiter instead of an asyncio.Queue: a worker holds thousands
    # of connections for minutes, and each GC-tracked object of theirs is walked by every full
    # collection (livetemplate/collector.py).
    __slots__ = ("websocket", "_outbox", "_wake", "_close", "_writer", "_reader", "_max_queue",
                 "_max_bytes", "_pending", "_send_lock", "_direct", "_send_timeout",
                 "_send_started", "_watch", "aborted")

    def __init__(self, websocket: WebSocket, max_queue: int, max_bytes: int | None = None,
                 send_timeout: float | None = None) -> None:
        self.websocket = websocket
        self._outbox: deque[str | None] = deque()  # messages for the writer; None: close
        self._wake: asyncio.Future[None] | None = None  # the writer waiting for the next one
        self._close: tuple[int, str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[object] | None = None
        self._max_queue = max_queue
        self._max_bytes = max_bytes
        self._pending = 0  # characters queued or kept for a direct send, not yet sent
        self._send_lock = asyncio.Lock()
        self._direct: list[str] | None = None  # messages the reader sends itself, in order
        self._send_timeout = send_timeout
        self._send_started = 0.0  # loop time the current send began; 0.0 when none is running
        self._watch: asyncio.TimerHandle | None = None
        self.aborted = False  # dropped by the stall watch: the reader was cancelled on purpose

    def start(self) -> None:
        """Start the writer; call it from the task that reads the connection (it may be
        cancelled when the client stalls)."""
        self._reader = asyncio.current_task()
        self._writer = asyncio.ensure_future(self._write())

    def deliver(self, text: str) -> None:
        if self._close is not None:
            return
        size = len(text)
        if self._max_bytes is not None and self._pending + size > self._max_bytes \
                and self._pending:
            self._overflow(f"{self._pending + size} characters of updates waiting, more than"
                           f" Limits.send_queue_bytes={self._max_bytes}")
            return
        direct = self._direct
        if direct is not None and (direct or (not self._outbox
                                              and not self._send_lock.locked())):
            if len(direct) < self._max_queue:
                direct.append(text)
                self._pending += size
                return
        if len(self._outbox) >= self._max_queue:
            self._overflow(f"{self._max_queue} messages waiting (Limits.send_queue)")
            return
        self._put(text)
        self._pending += size

    def _put(self, item: str | None) -> None:
        self._outbox.append(item)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)

    async def _get(self) -> str | None:
        while not self._outbox:
            self._wake = asyncio.get_running_loop().create_future()
            try:
                await self._wake
            finally:
                self._wake = None
        return self._outbox.popleft()

    def _overflow(self, what: str) -> None:
        logger.warning("livetemplate: closing a slow client: %s", what)
        self._outbox.clear()  # nothing queued is worth sending any more
        self._pending = 0
        self.close(protocol.close_code("slow_consumer") or 1013, SLOW, "slow_consumer")

    def close(self, code: int, reason: str, error_code: str | None = None) -> None:
        """Send an error message (if ``error_code``), then close with ``code`` and ``reason``."""
        if self._close is not None:
            return
        if error_code is not None:
            self._put(protocol.dumps(protocol.error_message(error_code, reason)))
        self._close = (code, reason)
        self._put(None)

    @property
    def closing(self) -> bool:
        return self._close is not None

    @property
    def pending(self) -> int:
        """Characters of messages accepted for this connection and not yet sent."""
        return self._pending

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
                        await self._send(text)
                except Exception:  # the peer went away; the reader sees the disconnect
                    logger.debug("livetemplate: direct send failed", exc_info=True)
        elif texts:
            self._pending = 0

    async def _send(self, text: str) -> None:
        # Every send goes through here, so the stall watch sees it.
        loop = asyncio.get_running_loop()
        self._send_started = loop.time()
        if self._watch is None and self._send_timeout is not None:
            self._watch = loop.call_later(self._send_timeout, self._check_stall)
        try:
            await self.websocket.send_text(text)
        finally:
            self._send_started = 0.0
            self._pending = max(0, self._pending - len(text))

    def _check_stall(self) -> None:
        self._watch = None
        started = self._send_started
        if not started or self._send_timeout is None:
            return  # no send running: the next one arms the watch again
        loop = asyncio.get_running_loop()
        left = started + self._send_timeout - loop.time()
        if left > 0:  # a later send, still within its time
            self._watch = loop.call_later(left, self._check_stall)
            return
        self._abort(f"a send stalled for {self._send_timeout:g} s (Limits.send_timeout): the"
                    " client stopped reading")

    def _abort(self, why: str) -> None:
        """Drop the connection now: a close cannot get through a socket nobody reads."""
        logger.warning("livetemplate: dropping a stalled client: %s", why)
        self.close(protocol.close_code("slow_consumer") or 1013, SLOW, "slow_consumer")
        self.aborted = True
        self._pending = 0
        for task in (self._writer, self._reader):
            if task is not None and not task.done():
                task.cancel()

    async def _write(self) -> None:
        try:
            while True:
                text = await self._get()
                if text is None:
                    break
                async with self._send_lock:
                    await self._send(text)
            if self._close is not None:
                code, reason = self._close
                await self.websocket.close(code=code, reason=_close_reason(reason))
        except Exception:  # the peer went away; the reader sees the disconnect and cleans up
            logger.debug("livetemplate: writer stopped", exc_info=True)

    async def finish(self) -> None:
        """Flush what is queued (when the writer is alive) and stop the writer."""
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        if self._writer is None:
            return
        if not self._writer.done():
            self._put(None)
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
