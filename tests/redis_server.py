"""A real ``redis-server`` for the tests: own process, free loopback port, no persistence.

Started by the tests (and ``bench/cluster_report.py``) themselves; ``scripts/install-redis``
installs Debian's ``redis-server``. ``stop()`` and ``start()`` again keep the port, and
``stop(save=True)`` writes a snapshot the next ``start()`` loads, so a test can take Redis away
and bring the same data back.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = False  # once started, the port stays (clients hold the URL)

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: run `scripts/install-redis` (Debian's"
                               " redis-server) first")
        for _ in range(5):
            if self._launch(binary):
                self.started = True
                return self
            if self.started:
                break
            # Another process took the free port between free_port() and the bind (tests and
            # benchmarks of other checkouts run beside these): try another.
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def _launch(self, binary: str) -> bool:
        proc = self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--dbfilename", "dump.rdb",
             "--protected-mode", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        # Ours answers, not some other redis-server already on the port: its process id.
        while self._pid() != proc.pid:
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(10)
                self.proc = None
                return False
            time.sleep(0.02)
        return True

    def _pid(self) -> int | None:
        found = re.search(rb"process_id:(\d+)", self.command("INFO", "server", whole=True) or b"")
        return int(found.group(1)) if found else None

    def command(self, *words: str, whole: bool = False) -> bytes | None:
        """One command over a plain socket: its first reply line (with ``whole``: what the
        first read gave), or None when not reachable."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall((" ".join(words) + "\r\n").encode())
                reply = sock.recv(65536)
        except OSError:
            return None
        return reply if whole else reply.split(b"\r\n", 1)[0]

    def stop(self, save: bool = False) -> None:
        if self.proc is None:
            return
        if save:
            self.command("SHUTDOWN", "SAVE")
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.proc = None


def redis_server(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder).start()
    try:
        yield server
    finally:
        server.stop()
