"""The per-connection send queue: order, bounds, stalls; and, against a real uvicorn process
(``bench/load_app.py``), clients that stop reading or stop answering pings."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench.load import LoadServer, rss
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


class StuckSocket(FakeSocket):
    """A peer that stopped reading: every send waits forever for the socket to drain."""

    async def send_text(self, text: str) -> None:
        await asyncio.Event().wait()


def test_the_queue_is_bounded_in_size_too() -> None:
    async def scenario() -> tuple[FakeSocket, WebSocketConnection]:
        socket = FakeSocket()
        conn = WebSocketConnection(socket, max_queue=100, max_bytes=1000)  # type: ignore[arg-type]
        conn.start()
        conn.deliver("x" * 5000)  # alone in the queue: a big page still goes out
        assert not conn.closing
        conn.deliver("y" * 10)  # 5010 characters waiting: too many
        socket.gate.set()
        await conn.finish()
        return socket, conn

    socket, conn = asyncio.run(scenario())
    assert conn.closing and conn.pending == 0
    assert socket.sent and '"code":"slow_consumer"' in socket.sent[0]  # the queue was dropped
    assert socket.closed is not None and socket.closed[0] == 1013


def test_a_stalled_send_drops_the_connection_and_cancels_its_reader() -> None:
    async def scenario() -> tuple[WebSocketConnection, bool]:
        socket = StuckSocket()
        conn = WebSocketConnection(socket, max_queue=10, send_timeout=0.05)  # type: ignore[arg-type]

        async def reader() -> None:  # what the endpoint does: start, then wait for messages
            conn.start()
            await asyncio.Event().wait()

        task = asyncio.ensure_future(reader())
        await asyncio.sleep(0)
        conn.deliver("update")
        try:
            await asyncio.wait_for(task, timeout=10)
        except asyncio.CancelledError:
            cancelled = True
        else:
            cancelled = False
        await conn.finish()
        return conn, cancelled

    conn, cancelled = asyncio.run(scenario())
    assert cancelled and conn.aborted and conn.closing and conn.pending == 0


def test_a_send_that_completes_is_not_a_stall() -> None:
    async def scenario() -> WebSocketConnection:
        socket = FakeSocket()
        socket.gate.set()
        conn = WebSocketConnection(socket, max_queue=10, send_timeout=0.01)  # type: ignore[arg-type]
        conn.start()
        for _ in range(3):
            conn.deliver("update")
            await asyncio.sleep(0.03)  # idle for longer than send_timeout between sends
        await conn.finish()
        return conn

    conn = asyncio.run(scenario())
    assert not conn.aborted and conn.pending == 0


# --- against a real uvicorn process ---------------------------------------------------------------

BIG = 256 * 1024  # characters per pushed update: TCP buffers absorb a lot, so make them big
QUEUE_BYTES = 2_000_000


class RawClient:
    """A WebSocket client on a plain socket, with a small receive buffer, that reads only when
    told to (so it can stop reading, and stop answering pings, like a stalled or dead peer)."""

    def __init__(self, port: int, path: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\n\r\n".encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def read_all(self, timeout: float = 10.0) -> tuple[list[str], int | None]:
        """Read until the server's close frame: the text messages before it, and its code."""
        self.sock.settimeout(timeout)
        texts: list[str] = []
        while True:
            buf, pos = self.buf, 0
            while len(buf) - pos >= 2:
                size, head = buf[pos + 1] & 0x7F, 2
                if size == 126:
                    size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
                elif size == 127:
                    size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
                if len(buf) - pos < head + size:
                    break
                opcode, payload = buf[pos] & 0x0F, buf[pos + head:pos + head + size]
                pos += head + size
                if opcode == 1:
                    texts.append(payload.decode())
                elif opcode == 8:
                    return texts, int.from_bytes(payload[:2], "big")
            self.buf = buf[pos:]
            try:
                chunk = self.sock.recv(1 << 20)
            except (TimeoutError, ConnectionResetError):
                return texts, None
            if not chunk:
                return texts, None
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> bool:
    give_up = time.monotonic() + timeout
    while not check():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def slow_server() -> Iterator[LoadServer]:
    with LoadServer(limits={"send_queue_bytes": QUEUE_BYTES, "send_timeout": 1.0}) as server:
        yield server


def test_a_client_that_stops_reading_is_dropped_with_the_reason(slow_server: LoadServer) -> None:
    client = RawClient(slow_server.port, "/shared?group=burst")
    try:
        # 40 big updates at once, while the client reads nothing: past send_queue_bytes
        slow_server.call(f"/push?group=burst&size={BIG}&count=40", "POST")
        assert wait_until(lambda: slow_server.stats("burst")["group_connections"] == 0)
        texts, code = client.read_all()  # the client wakes up and reads what it was sent
    finally:
        client.close()
    assert code == 1013
    assert '"code":"slow_consumer"' in texts[-1] and "reconnect" in texts[-1]
    assert sum(len(t) for t in texts) < QUEUE_BYTES + 2 * BIG  # the rest was dropped, not sent


def test_a_stalled_client_does_not_grow_server_memory(slow_server: LoadServer) -> None:
    pid = slow_server.stats()["pid"]
    client = RawClient(slow_server.port, "/shared?group=trickle")
    try:
        before = peak = rss(pid)
        for _ in range(200):  # 50 MB of updates, one at a time: the writer is always sending
            slow_server.call(f"/push?group=trickle&size={BIG}&count=1", "POST")
            peak = max(peak, rss(pid))
        # past send_timeout the stalled send drops it (its reader is cancelled, page forgets it)
        assert wait_until(lambda: slow_server.stats("trickle")["group_connections"] == 0)
    finally:
        client.close()
    assert (peak - before) * 1024 < 20_000_000, f"RSS grew {peak - before} KiB"


def test_a_silent_peer_is_found_by_pings_and_freed() -> None:
    from websockets.sync.client import connect

    with LoadServer(uvicorn_args=["--ws-ping-interval", "0.2", "--ws-ping-timeout", "0.2"]) as server:
        dead = RawClient(server.port, "/shared?group=dead")  # never reads, so never pongs
        try:
            # a client library answers pings on its own
            with connect(f"ws://127.0.0.1:{server.port}/shared?group=alive"):
                assert server.stats("dead")["group_connections"] == 1
                assert wait_until(lambda: server.stats("dead")["group_connections"] == 0)
                time.sleep(1.0)  # several ping rounds
                assert server.stats("alive")["group_connections"] == 1
        finally:
            dead.close()
