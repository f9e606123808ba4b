"""Checks of livetemplate-client.js that need no browser: size, wire names, how it is served."""

from __future__ import annotations

import gzip
import os
import re

from starlette.applications import Starlette
from starlette.testclient import TestClient

from livetemplate import Application
from livetemplate.endpoints import CLIENT_FILE
from lt_engine import wire

os.environ.setdefault("LIVETEMPLATE_SECRET", "client-js-tests")

SOURCE = CLIENT_FILE.read_text()


def _without_comments_and_indent(source: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
    text = re.sub(r"(?<=[;{},)])\s+//.*$", "", text, flags=re.M)  # a comment after code
    return re.sub(r"^\s+", "", text, flags=re.M)


def test_client_is_small() -> None:
    # Gzip of the file without comments and indentation: an upper bound of the minified and
    # gzipped size (limit 10 KB; terser makes it ~2 KB smaller still, docs/client.md).
    stripped = _without_comments_and_indent(SOURCE)
    assert "/*" not in stripped and len(stripped) < len(SOURCE) * 0.8
    assert len(gzip.compress(stripped.encode(), 9)) <= 10 * 1024


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
