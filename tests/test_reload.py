"""Dev mode: an edited template reaches the live pages that show it, which keep their state."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import lt_engine
from livetemplate import Application
from livetemplate.reload import files_changed, sources
from livetemplate.testing import mount
from lt_engine.precompiled import compile_dir

os.environ.setdefault("LIVETEMPLATE_SECRET", "reload-tests")

COUNTER = '<h1>Counter</h1><span id="count">{{ count }}</span>'
APP = """
from pathlib import Path

from starlette.applications import Starlette

from livetemplate import Application

live = Application(secret="reload-tests")
live.parse_files(Path(__file__).parent / "templates" / "*.html")


class Counter:
    def __init__(self):
        self.count = 0

    def increment(self):
        self.count += 1


app = Starlette(routes=live.routes("/ws", new_page=lambda ws: live.new_page("counter", Counter())))
"""


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.count += 1


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    (folder / "partials").mkdir(parents=True)
    (folder / "counter.html").write_text(COUNTER)
    (folder / "base.html").write_text("<main>{% block body %}{% endblock %}</main>")
    (folder / "page.html").write_text('{% extends "base.html" %}{% block body %}'
                                      '{% include "partials/nav.html" %}{{ n }}{% endblock %}')
    (folder / "partials/nav.html").write_text("<nav></nav>")
    return folder


def test_reload_template_remounts_live_pages_keeping_their_state(templates: Path) -> None:
    app = Application(dev=False)
    app.parse_files(templates / "*.html")
    with mount(app, "counter", Counter()) as view, mount(app, "counter", Counter()) as other:
        view.send("increment")
        (templates / "counter.html").write_text('<h2>Count: <b>{{ count }}</b></h2>')
        assert app.reload_template("counter") == 2
        full = view.messages[-1]["tree"]
        assert full == {"s": ["<h2>Count: <b>", "</b></h2>"], "0": "1"}
        assert other.html == "<h2>Count: <b>0</b></h2>"
        view.send("increment")
        assert view.updates[-1] == {"0": "2"}
        assert view.html == "<h2>Count: <b>2</b></h2>"
    assert app.new_page("counter", Counter()).html() == "<h2>Count: <b>0</b></h2>"


def test_a_changed_dependency_reloads_the_templates_built_from_it(templates: Path) -> None:
    app = Application(dev=False)
    app.parse_files(templates / "*.html")
    nav = os.path.realpath(templates / "partials/nav.html")
    assert sources(app)[nav] == {"page"}
    (templates / "partials/nav.html").write_text("<nav>menu</nav>")
    assert files_changed([str(templates / "partials/nav.html")], [app]) == ["page"]
    assert app.template("page").render(n=1) == "<main><nav>menu</nav>1</main>"
    assert files_changed([str(templates / "unrelated.txt")], [app]) == []


def test_a_template_that_no_longer_compiles_is_logged_and_the_old_one_kept(
        templates: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = Application(dev=False)
    app.parse_files(templates / "*.html")
    (templates / "counter.html").write_text("<p>\n{% for x in %}</p>")
    with caplog.at_level(logging.ERROR, "livetemplate"):
        assert files_changed([str(templates / "counter.html")], [app]) == []
    assert f"template 'counter' not reloaded: {templates / 'counter.html'}:2:" in caplog.text
    assert app.new_page("counter", Counter()).html() == COUNTER.replace("{{ count }}", "0")


def test_templates_made_from_strings_cannot_be_reloaded() -> None:
    app = Application(dev=False)
    app.add_template("inline", "<p>{{ x }}</p>")
    assert sources(app) == {}
    with pytest.raises(ValueError, match="made from a string"):
        app.reload_template("inline")


def test_compiled_templates_reload_from_their_source_directory(templates: Path) -> None:
    out = templates.parent / "build"
    assert not compile_dir(lt_engine.Environment(), templates, out).problems
    app = Application(compiled=out, dev=True)
    assert app.template_names == ["base", "counter", "page", "partials/nav"]
    view = mount(app, "counter", Counter())
    view.send("increment")
    (templates / "base.html").write_text("<body>{% block body %}{% endblock %}</body>")
    assert files_changed([str(templates / "base.html")], [app]) == ["base", "page"]
    (templates / "counter.html").write_text("<i>{{ count }}</i>")
    assert files_changed([str(templates / "counter.html")], [app]) == ["counter"]
    assert view.html == "<i>1</i>"
    assert app.template("page").render(n=2) == "<body><nav></nav>2</body>"


# -- the real thing: `livetemplate run --reload`, uvicorn, a WebSocket client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dev_server(templates: Path) -> Iterator[tuple[int, Path]]:
    (templates.parent / "devsite.py").write_text(APP)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "livetemplate", "run", "devsite:app", "--reload", "--port",
         str(port), "--log-level", "warning"],
        cwd=templates.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: uvicorn's worker is stopped with it
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.communicate(timeout=5)[0] if process.poll() is not None \
                        else "(still running)"
                    pytest.fail(f"livetemplate run did not start: {output}")
                time.sleep(0.1)
        yield port, templates
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def test_run_reload_sends_the_new_template_to_connected_pages(
        dev_server: tuple[int, Path]) -> None:
    from websockets.sync.client import connect

    port, templates = dev_server
    with connect(f"ws://127.0.0.1:{port}/ws") as ws:
        assert json.loads(ws.recv(10))["type"] == "page_token"
        assert json.loads(ws.recv(10))["tree"] == {
            "s": ['<h1>Counter</h1><span id="count">', "</span>"], "0": "0"}
        for expected in ("1", "2"):
            ws.send(json.dumps({"type": "action", "action": "increment"}))
            assert json.loads(ws.recv(10))["tree"] == {"0": expected}
        # The watcher started with the server (lifespan start-up), before it took connections.
        (templates / "counter.html").write_text('<h2>Clicks: <b id="count">{{ count }}</b></h2>')
        reloaded = json.loads(ws.recv(15))
        assert reloaded["tree"] == {"s": ['<h2>Clicks: <b id="count">', "</b></h2>"], "0": "2"}
        ws.send(json.dumps({"type": "action", "action": "increment"}))
        assert json.loads(ws.recv(10))["tree"] == {"0": "3"}
