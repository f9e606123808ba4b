from __future__ import annotations

import asyncio
from typing import Any

from livetemplate.connection import WebSocketConnection, _close_reason


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def test_messages_are_written_in_order_then_the_close() -> None:
    async def scenario() -> FakeSocket:
        socket = FakeSocket()
        socket.gate.set()
        conn = WebSocketConnection(socket, max_queue=10)  # type: ignore[arg-type]
        conn.start()
        conn.deliver("a")
        conn.deliver("b")
        conn.close(1008, "bye", "origin")
        conn.deliver("ignored")
        await conn.finish()
        return socket

    socket = asyncio.run(scenario())
    assert socket.sent[:2] == ["a", "b"] and '"code":"origin"' in socket.sent[2]
    assert socket.closed == (1008, "bye")


def test_a_slow_client_is_closed_instead_of_growing_memory() -> None:
    async def scenario() -> tuple[FakeSocket, Any]:
        socket = FakeSocket()
        conn = WebSocketConnection(socket, max_queue=3)  # type: ignore[arg-type]
        conn.start()
        for i in range(10):
            conn.deliver(str(i))
        socket.gate.set()
        await conn.finish()
        return socket, conn

    socket, conn = asyncio.run(scenario())
    assert conn.closing and socket.closed is not None and socket.closed[0] == 1013
    assert "too slow" in socket.closed[1] and len(socket.sent) <= 3


def test_close_reasons_fit_the_websocket_limit() -> None:
    assert _close_reason("short") == "short"
    assert len(_close_reason("é" * 200).encode()) <= 123
