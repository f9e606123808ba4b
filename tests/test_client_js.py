"""Checks of livetemplate-client.js that need no browser: size, wire names, how it is served."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from livetemplate import Application
from livetemplate.endpoints import CLIENT_FILE
from lt_engine import wire

os.environ.setdefault("LIVETEMPLATE_SECRET", "client-js-tests")

SOURCE = CLIENT_FILE.read_text()


SIZE_BUDGET = 10 * 1024  # bytes, minified and gzipped (docs/client.md)
REQUIRE_TERSER_ENV = "LIVETEMPLATE_REQUIRE_TERSER"  # set by scripts/test: missing = failure


def _minified(source: str) -> str | None:
    """The client as terser minifies it (`-c -m`), or None when terser is not installed."""
    terser = shutil.which("terser")
    if terser is None:
        return None
    # Debian's terser keeps its modules in /usr/share/nodejs, which a Node.js from elsewhere
    # (e.g. NodeSource) does not search by itself.
    env = {**os.environ, "NODE_PATH": "/usr/share/nodejs"}
    done = subprocess.run([terser, "-c", "-m"], input=source, capture_output=True, text=True,
                          env=env, check=True, timeout=120)
    return done.stdout


def test_client_is_small() -> None:
    minified = _minified(SOURCE)
    if minified is None:
        if os.environ.get(REQUIRE_TERSER_ENV):
            pytest.fail("terser is not installed: run scripts/install-terser")
        pytest.skip("terser is not installed (scripts/install-terser installs Debian's)")
    assert 0 < len(minified) < len(SOURCE) * 0.6  # really minified, not an error message
    size = len(gzip.compress(minified.encode(), 9))
    assert size <= SIZE_BUDGET, f"client is {size} B minified and gzipped; budget {SIZE_BUDGET} B"


def test_client_has_no_dependencies() -> None:
    assert not re.search(r"^\s*(import|export)\s", SOURCE, re.MULTILINE)
    assert "require(" not in SOURCE


def test_client_mirrors_the_wire_names() -> None:
    names = {"STATICS": wire.STATICS, "ITEMS": wire.ITEMS, "META": wire.META,
             "ID_KEY": wire.ID_KEY, "KEY": wire.KEY, "STREAM": wire.STREAM}
    for const, value in names.items():
        assert re.search(rf"\b{const} = '{re.escape(value)}'", SOURCE), const
    for op in (wire.OP_REMOVE, wire.OP_UPDATE, wire.OP_APPEND, wire.OP_PREPEND, wire.OP_INSERT,
               wire.OP_REORDER):
        assert f"kind === '{op}'" in SOURCE, op


def test_client_finds_rows_by_the_engines_key_attribute_rule() -> None:
    # One rule for both sides: the client's patterns are wire.py's, verbatim.
    for name, pattern in (("KEY_HEAD", wire.KEY_HEAD), ("KEY_TAIL", wire.KEY_TAIL)):
        found = re.search(rf"const {name} = /(.*)/;", SOURCE)
        assert found is not None, name
        assert found.group(1) == pattern, name


def test_app_serves_the_client() -> None:
    live = Application()
    live.add_template("hello", "<p>{{ name }}</p>")
    with TestClient(Starlette(routes=live.routes("/ws"))) as client:
        response = client.get(live.client_path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "class LiveTemplateClient" in response.text


DOCS = (CLIENT_FILE.parents[3] / "docs" / "client.md").read_text()


def test_every_attribute_event_command_and_hook_callback_is_documented() -> None:
    # Attribute names spelt out in the source, plus those it builds from an event name.
    attrs = set(re.findall(r"lvt-[a-z][a-z-]*[a-z]", SOURCE)) - {"lvt-lost-page-reload", "lvt-forms"}
    attrs |= {f"lvt-{e}" for e in ("click", "submit", "change", "input", "keydown", "keyup",
                                   "focus", "blur", "window-keydown", "window-keyup")}
    events = set(re.findall(r"'(lvt:[a-z]+)'", SOURCE))
    commands = {"show",  # run by test_commands.py in Chromium "hide", "toggle", "add_class", "remove_class", "toggle_class", "set_attr",
                "remove_attr", "focus", "dispatch"}
    callbacks = {"mounted", "updated", "destroyed", "disconnected", "reconnected", "pushEvent",
                 "handleEvent", "exec"}
    assert all(f"'{c}'" in SOURCE or f"{c}:" in SOURCE for c in callbacks), callbacks
    missing = [name for name in sorted(attrs | events) if name not in DOCS]
    missing += [name for name in sorted(commands | callbacks) if f"`{name}(" not in DOCS
                and f"`{name}`" not in DOCS]
    assert missing == []
