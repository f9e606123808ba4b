"""The load tool's client side: a lean WebSocket client and the worker process that runs many.

``WsClient`` is an ``asyncio.Protocol`` speaking just enough RFC 6455 for a load test (upgrade,
masked text frames out, unmasked frames in, pong on ping, the closing handshake) in a few
microseconds per message, so thousands of connections in a couple of processes do not make the
client the bottleneck (the ``websockets`` package costs several times more per message). It is a
test client, not a general one: no extensions, no TLS.

A worker (``worker_main``, one process each) takes commands from the load tool over a pipe:
open idle connections, open active ones, run actions for a while, check, close. Active connections
follow the counter of ``bench/load_app.py``: each action is ``increment`` with ``who`` =
``"<connection>:<seq>"``, and every update must carry the next count (none skipped, none twice),
so a connection counts its lost updates as it reads. On a shared page every connection sees every
member's actions; a connection's own action is done when an update names it in ``last``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

from websockets.speedups import apply_mask

OPEN_TIMEOUT = 30.0  # seconds for one connection's TCP connect, upgrade and first messages
DRAIN_TIMEOUT = 10.0  # seconds to wait for outstanding replies once the run is over
OPENING_AT_ONCE = 100  # connection attempts in flight per worker
ACTION_HEAD = '{"type":"action","action":"increment","data":{"who":"'  # + who + ACTION_TAIL
ACTION_TAIL = '"}}'


class WsError(Exception):
    pass


class WsClient(asyncio.Protocol):
    """One WebSocket connection; ``on_text(str)`` is called for every text message."""

    def __init__(self, host: str, port: int, path: str, on_text: Callable[[str], None]) -> None:
        loop = asyncio.get_running_loop()
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n\r\n")
        self.on_text = on_text
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[tuple[int, str]] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] = []
        self.reading = True

    # asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end])
            del self.buf[:end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self._fail(WsError(f"upgrade refused: {head.splitlines()[0]!r}"))
                return
            self.upgraded = True
            self.opened.set_result(None)
        self._read_frames()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(WsError(f"connection lost before the upgrade: {exc}"))
        if not self.closed.done():
            self.closed.set_result((1006, f"connection lost: {exc}" if exc else "connection lost"))

    # frames -----------------------------------------------------------------------------------

    def _read_frames(self) -> None:
        buf = self.buf
        pos, end = 0, len(buf)
        while end - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            size, head = b1 & 0x7F, 2
            if size == 126:
                if end - pos < 4:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif size == 127:
                if end - pos < 10:
                    break
                size, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if b1 & 0x80:
                self._fail(WsError("the server sent a masked frame"))
                return
            if end - pos < head + size:
                break
            payload = bytes(buf[pos + head:pos + head + size])
            pos += head + size
            self._frame(b0 & 0x80, b0 & 0x0F, payload)
            if self.transport is None or self.transport.is_closing():
                break
        del buf[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (0, 1, 2):
            if not fin:
                self.fragments.append(payload)
                return
            if self.fragments:
                payload = b"".join(self.fragments) + payload
                self.fragments = []
            self.on_text(payload.decode())
        elif opcode == 9:
            self._send(0xA, payload)
        elif opcode == 8:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if not self.closed.done():
                self.closed.set_result((code, payload[2:].decode(errors="replace")))
            self._send(0x8, payload[:2])
            if self.transport is not None:
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        size = len(payload)
        if size < 126:
            head = bytes((0x80 | opcode, 0x80 | size))
        elif size < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
        mask = random.getrandbits(32).to_bytes(4, "big")
        self.transport.write(head + mask + apply_mask(payload, mask))

    def _fail(self, exc: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        if not self.closed.done():
            self.closed.set_result((1002, str(exc)))
        if self.transport is not None:
            self.transport.abort()

    # API --------------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def close(self, code: int = 1000) -> None:
        self._send(0x8, code.to_bytes(2, "big"))

    @property
    def is_open(self) -> bool:
        return self.upgraded and not self.closed.done()


async def connect(host: str, port: int, path: str, on_text: Callable[[str], None]) -> WsClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: WsClient(host, port, path, on_text),
                                             host, port)
    await client.opened
    return client


# --- one connection of the load run -------------------------------------------------------------


@dataclass
class Member:
    """One connection: idle, or active on its own page or a group's shared page."""

    name: str
    path: str
    group: str
    client: WsClient | None = None
    count: int = -1  # the page's count as this connection last saw it (-1: no tree yet)
    last: str = ""  # "who" of the last update seen
    sent: int = 0  # own actions sent
    done: int = 0  # own actions whose update arrived
    waiting: str | None = None  # "who" of the action in flight
    sent_at: float = 0.0
    lost: int = 0
    errors: list[str] = field(default_factory=list)
    first: asyncio.Event = field(default_factory=asyncio.Event)
    reply: asyncio.Future[None] | None = None  # resolved when the action in flight is answered
    latencies: array[float] = field(default_factory=lambda: array("d"))

    def on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            self.errors.append(f"not JSON: {text[:80]!r}")
            return
        kind = message.get("type")
        if kind == "page_token":
            return
        if kind == "error":
            self.errors.append(f"error {message.get('code')}: {message.get('message')}")
            self._answered()
            return
        tree = message.get("tree")
        if not isinstance(tree, dict):
            self.errors.append(f"unexpected message: {text[:80]!r}")
            return
        if self.count < 0:
            self.count = int(tree["1"])
            self.first.set()
            return
        if "1" not in tree:  # an unchanged tree: only meta, for an action that changed nothing
            self.errors.append(f"an update without the count: {text[:80]!r}")
            return
        count = int(tree["1"])
        if count != self.count + 1:
            if count > self.count + 1:
                self.lost += count - self.count - 1
            else:
                self.errors.append(f"count went from {self.count} to {count}")
        self.count = count
        self.last = tree.get("2", self.last)
        if self.waiting is not None and self.last == self.waiting:
            self.latencies.append(time.perf_counter() - self.sent_at)
            self.waiting = None
            self.done += 1
            self._answered()

    def _answered(self) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_result(None)

    def act(self) -> None:
        self.sent += 1
        self.waiting = f"{self.name}:{self.sent}"
        self.reply = asyncio.get_running_loop().create_future()
        self.sent_at = time.perf_counter()
        assert self.client is not None
        self.client.send_text(ACTION_HEAD + self.waiting + ACTION_TAIL)


# --- the worker process ---------------------------------------------------------------------------


class Worker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.idle: list[Member] = []
        self.active: list[Member] = []
        self.open_errors: list[str] = []

    async def open(self, members: list[Member]) -> None:
        gate = asyncio.Semaphore(OPENING_AT_ONCE)

        async def one(member: Member) -> None:
            async with gate:
                try:
                    member.client = await asyncio.wait_for(
                        connect(self.host, self.port, member.path, member.on_text), OPEN_TIMEOUT)
                    await asyncio.wait_for(member.first.wait(), OPEN_TIMEOUT)
                except (OSError, WsError, asyncio.TimeoutError) as exc:
                    self.open_errors.append(f"{member.name}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(one(m) for m in members))

    async def run(self, start: float, seconds: float, max_actions: int, rate: float) -> None:
        await asyncio.sleep(max(0.0, start - time.time()))
        deadline = time.perf_counter() + seconds

        def give_up() -> None:  # one timer for all, not one per action (wait_for makes a task)
            for member in self.active:
                if member.reply is not None and not member.reply.done():
                    member.reply.set_exception(asyncio.TimeoutError())

        watchdog = asyncio.get_running_loop().call_later(seconds + DRAIN_TIMEOUT, give_up)

        async def loop(member: Member) -> None:
            if member.client is None:
                return
            gap = 1.0 / rate if rate > 0 else 0.0
            next_at = time.perf_counter() + random.random() * gap
            while member.sent < max_actions:
                now = time.perf_counter()
                if gap:
                    if next_at >= deadline:
                        break
                    if next_at > now:
                        await asyncio.sleep(next_at - now)
                    next_at = max(next_at + gap, time.perf_counter())
                elif now >= deadline:
                    break
                if not member.client.is_open:
                    member.errors.append(f"closed: {member.client.closed.result()}")
                    return
                member.act()
                try:
                    await member.reply  # type: ignore[misc]
                except asyncio.TimeoutError:
                    member.errors.append(f"no reply to {member.waiting}")
                    return

        await asyncio.gather(*(loop(m) for m in self.active))
        watchdog.cancel()

    async def settle(self, expected: dict[str, int]) -> None:
        """Wait (bounded) until every active connection saw its group's final count."""
        give_up = time.perf_counter() + DRAIN_TIMEOUT
        while time.perf_counter() < give_up:
            if all(m.count >= expected.get(m.group, 0) for m in self.active if m.client):
                return
            await asyncio.sleep(0.05)

    def report(self) -> dict[str, Any]:
        idle_closed = [f"{m.name}: {m.client.closed.result()}" for m in self.idle
                       if m.client is not None and m.client.closed.done()]
        return {
            "active": [{"group": m.group, "sent": m.sent, "done": m.done, "count": m.count,
                        "opened": m.client is not None,
                        "lost": m.lost, "errors": m.errors[:5], "n_errors": len(m.errors)}
                       for m in self.active],
            "idle_open": sum(1 for m in self.idle if m.client is not None and m.client.is_open),
            "idle_errors": [e for m in self.idle for e in m.errors][:20] + idle_closed[:20],
            "open_errors": self.open_errors[:20], "n_open_errors": len(self.open_errors),
            "latencies": array("d", [x for m in self.active for x in m.latencies]).tobytes(),
        }

    async def close(self) -> None:
        for member in self.idle + self.active:
            if member.client is not None and member.client.is_open:
                member.client.close()
        await asyncio.sleep(0.2)
        for member in self.idle + self.active:
            if member.client is not None and member.client.transport is not None:
                member.client.transport.close()


def worker_main(pipe: Pipe, host: str, port: int) -> None:
    """A client process: obey the commands from ``pipe`` until ``close``."""
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_serve(pipe, host, port))


async def _serve(pipe: Pipe, host: str, port: int) -> None:
    worker = Worker(host, port)
    loop = asyncio.get_running_loop()
    while True:
        # a thread reads the pipe: the loop would make its descriptor non-blocking
        command, args = await loop.run_in_executor(None, pipe.recv)
        began = time.process_time()
        if command == "idle":
            members = [Member(name, path, name) for name, path in args]
            worker.idle.extend(members)
            await worker.open(members)
            pipe.send({"opened": sum(1 for m in members if m.client is not None)})
        elif command == "active":
            members = [Member(name, path, group) for name, path, group in args]
            worker.active.extend(members)
            await worker.open(members)
            pipe.send({"opened": sum(1 for m in members if m.client is not None)})
        elif command == "run":
            await worker.run(**args)
            pipe.send({"cpu": time.process_time() - began,
                       "sent": {m.name: m.sent for m in worker.active}})
        elif command == "settle":
            await worker.settle(args)
            pipe.send(worker.report())
        elif command == "close":
            await worker.close()
            pipe.send({})
            return
