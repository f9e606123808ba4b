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


def test_client_is_small() -> None:
    # Gzip of the unminified file: an upper bound of the minified+gzipped size (limit 10 KB).
    assert len(gzip.compress(SOURCE.encode(), 9)) <= 10 * 1024


def test_client_has_no_dependencies() -> None:
    assert not re.search(r"^\s*(import|export)\s", SOURCE, re.MULTILINE)
    assert "require(" not in SOURCE


def test_client_mirrors_the_wire_names() -> None:
    names = {"STATICS": wire.STATICS, "ITEMS": wire.ITEMS, "META": wire.META,
             "ID_KEY": wire.ID_KEY, "KEY": wire.KEY}
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
