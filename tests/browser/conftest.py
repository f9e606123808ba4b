"""Browser fixtures: Debian's chromium through playwright, and apps served by uvicorn in a thread.

The tests need ``/usr/bin/chromium`` (``scripts/install-browser``) and the ``playwright`` Python
package; without them they fail, saying what to install, rather than skip.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("LIVETEMPLATE_SECRET", "browser-tests")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 5000
LIVE = "() => !!(window.liveTemplate && window.liveTemplate.tree)"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """An ASGI app under uvicorn in a thread; ``stop()`` and ``start()`` again on the same port."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        import uvicorn

        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = self._thread = None


def serve(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/install-browser` (installs Debian's"
                    " chromium) before the browser tests", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need the playwright package: .venv/bin/pip install"
                    " playwright (no browser download needed)", pytrace=False)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture(scope="package")
def counter_server() -> Iterator[LiveServer]:
    from examples.counter.app import app

    yield from serve(app)


@pytest.fixture(scope="package")
def dashboard_server() -> Iterator[LiveServer]:
    from examples.dashboard.app import app

    yield from serve(app)


@pytest.fixture(scope="package")
def todo_server() -> Iterator[LiveServer]:
    from examples.todo.app import app

    yield from serve(app)


@pytest.fixture(scope="package")
def play_server() -> Iterator[LiveServer]:
    from tests.browser.playground import app

    yield from serve(app)


def open_live(page: Any, url: str) -> Any:
    """Load a page and wait until the client holds the server's tree."""
    page.goto(url)
    page.wait_for_function(LIVE)
    return page


@pytest.fixture(scope="package")
def interactive_server() -> Iterator[LiveServer]:
    from tests.browser.interactive import app

    yield from serve(app)


@pytest.fixture(scope="package")
def chat_server() -> Iterator[LiveServer]:
    from examples.chat.app import app

    yield from serve(app)
