"""Connection state against a real uvicorn process that is stopped and started again.

The page's root carries ``lvt-connecting`` until its first tree, then ``lvt-connected``, and
``lvt-disconnected`` while the connection is down. Actions made while down wait (the element keeps
its loading class) and are sent once the client is connected again; form input not yet sent
survives, and a form with ``lvt-change`` sends it again to the (new) page.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LIVE, free_port

ROOT = Path(__file__).parents[2]
WITHIN_MS = 2000  # the bound for the disconnected class after the server stops

# Set up before the client starts (its DOMContentLoaded listener comes later).
CLASS_LOG = """window.classLog = [];
document.addEventListener('DOMContentLoaded', () => new MutationObserver(() => {
  const now = ['connecting', 'connected', 'disconnected']
    .filter((s) => document.body.classList.contains('lvt-' + s)).join(' ');
  if (now && window.classLog[window.classLog.length - 1] !== now) window.classLog.push(now);
}).observe(document.body, { attributes: true, attributeFilter: ['class'] }));"""


class Process:
    """``uvicorn tests.browser.interactive:app`` in its own process, on one port throughout."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "LIVETEMPLATE_SECRET": "connection-state-tests"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.browser.interactive:app", "--host",
             "127.0.0.1", "--port", str(self.port), "--log-level", "warning"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)
        self.proc = None


@pytest.fixture
def server() -> Iterator[Process]:
    proc = Process()
    proc.start()
    try:
        yield proc
    finally:
        proc.stop(signal.SIGKILL)


def classes(page: Any) -> str:
    return str(page.evaluate("document.body.className"))


def wait_state(page: Any, state: str, timeout: int = 10000) -> None:
    page.wait_for_function(f"document.body.classList.contains('lvt-{state}')", timeout=timeout)


def test_classes_queue_and_recovery_across_a_restart(page: Any, server: Process) -> None:
    page.add_init_script(CLASS_LOG)
    page.goto(server.url + "/p1")  # a page per connection: the restarted server makes a new one
    page.wait_for_function(LIVE)
    wait_state(page, "connected")
    assert page.evaluate("window.classLog")[:2] == ["connecting", "connected"]
    page.fill("#title", "unsent todo")  # typed, not submitted
    page.evaluate("document.getElementById('draft-text').value = 'draft text'")  # no event yet
    server.stop()
    wait_state(page, "disconnected", WITHIN_MS)
    assert "lvt-connected" not in classes(page)
    assert "disconnected chart" in page.evaluate("window.hookLog")
    page.click("#inc")  # while down: waits, visibly
    expect(page.locator("#inc")).to_have_class("lvt-loading")
    expect(page.locator("#count")).to_have_text("0")
    server.start()
    wait_state(page, "connected")
    assert "lvt-disconnected" not in classes(page)
    expect(page.locator("#count")).to_have_text("1")  # the waiting action reached the new page
    expect(page.locator("#inc")).not_to_have_class("lvt-loading")
    expect(page.locator("#draft-echo")).to_have_text("draft text|off")  # lvt-change form resent
    expect(page.locator("#title")).to_have_value("unsent todo")  # kept in the field
    assert "reconnected chart" in page.evaluate("window.hookLog")
    page.press("#title", "Enter")
    expect(page.locator("#todos li")).to_have_text(["unsent todo"])
    assert page.evaluate("window.classLog") == ["connecting", "connected", "disconnected",
                                                "connected"]


def test_a_killed_server_and_a_lost_page_keep_typed_input(page: Any, server: Process) -> None:
    page.goto(server.url + "/")  # Pattern 2: the restarted server has lost the page: reload
    page.wait_for_function(LIVE)
    page.fill("#title", "kept across the reload")
    page.check("#draft input[name=keep]")
    page.evaluate("document.getElementById('draft-text').value = 'half a draft'")
    server.stop(signal.SIGKILL)
    wait_state(page, "disconnected", WITHIN_MS)
    page.evaluate("window.beforeReload = true")
    server.start()
    page.wait_for_function("!window.beforeReload && window.liveTemplate && window.liveTemplate.tree")
    wait_state(page, "connected")
    expect(page.locator("#title")).to_have_value("kept across the reload")
    expect(page.locator("#draft-text")).to_have_value("half a draft")
    expect(page.locator("#draft-echo")).to_have_text("half a draft|on")


def test_waiting_actions_go_in_order_and_overflow_is_refused(page: Any) -> None:
    from tests.browser.conftest import LiveServer
    from tests.browser.interactive import app

    server = LiveServer(app).start()  # in this process: its pages outlive the restart
    try:
        page.goto(server.url + "/p1")
        page.wait_for_function(LIVE)
        page.evaluate("""() => { window.lvtErrors = [];
          document.addEventListener('lvt:error', (e) => window.lvtErrors.push(e.detail.code)); }""")
        server.stop()
        wait_state(page, "disconnected")
        # 100 wait (the queue's size); the 101st is refused with an lvt:error.
        page.evaluate("for (let i = 0; i < 101; i++) window.liveTemplate.send('inc')")
        page.wait_for_function("window.liveTemplate.queue.length === 100")
        page.wait_for_function("window.lvtErrors.includes('disconnected')")
        server.start()
        wait_state(page, "connected")
        expect(page.locator("#count")).to_have_text("100")  # the same page, every waiting action
        assert page.evaluate("window.liveTemplate.queue.length") == 0
    finally:
        server.stop()
