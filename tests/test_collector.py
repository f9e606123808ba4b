"""The GC policy: one full collection and a freeze after start-up, then a freeze after every
batch of new pages or connections, so long-lived objects leave the collector's reach."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from livetemplate import Application, collector
from livetemplate.collector import FREEZE_EVERY, THRESHOLDS, Collector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """A collector of its own, put where the application looks; the process's GC restored."""
    thresholds = gc.get_threshold()
    clock = Clock()
    made = Collector(clock)
    made.clock_ = clock  # type: ignore[attr-defined]
    for module in ("livetemplate.app", "livetemplate.endpoints"):
        monkeypatch.setattr(f"{module}.COLLECTOR", made)
    yield made
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_first_page_freezes_what_start_up_made(fresh: Collector) -> None:
    live = Application(secret="gc", tune_gc=True)
    live.add_template("t", "<b>{{ n }}</b>")
    assert gc.get_freeze_count() == 0 and not fresh.active
    page = live.new_page("t", {"n": 1})
    assert fresh.active and fresh.freezes == 1 and gc.get_threshold() == THRESHOLDS
    assert gc.get_freeze_count() > 1000  # modules, templates, the application ...
    frozen = gc.get_freeze_count()
    assert page.html() == "<b>1</b>" and gc.get_freeze_count() == frozen


def test_new_pages_and_connections_are_frozen_in_batches(fresh: Collector) -> None:
    live = Application(secret="gc", tune_gc=True)
    live.add_template("t", "<b>{{ n }}</b>")
    pages = [live.new_page("t", {"n": i}) for i in range(FREEZE_EVERY - 1)]
    assert fresh.freezes == 1 and fresh.grown == FREEZE_EVERY - 1
    fresh.clock_.now += 5  # type: ignore[attr-defined]
    before = gc.get_freeze_count()
    client = TestClient(Starlette(routes=live.routes(
        "/ws", new_page=lambda ws: live.new_page("t", {"n": 0}))))
    with client.websocket_connect("/ws") as ws:  # a page (the 200th) and a connection
        ws.receive_json(), ws.receive_json()
        assert fresh.freezes == 2 and fresh.grown == 1
    assert gc.get_freeze_count() > before + len(pages)  # the pages' objects among them


def test_a_freeze_waits_for_its_interval(fresh: Collector) -> None:
    fresh.start()
    for _ in range(3 * FREEZE_EVERY):
        fresh.grew()
    assert fresh.freezes == 1  # the clock stood still
    fresh.clock_.now += collector.FREEZE_INTERVAL  # type: ignore[attr-defined]
    fresh.grew()
    assert fresh.freezes == 2 and fresh.grown == 0


def test_collect_all_frees_cycles_among_frozen_objects(fresh: Collector) -> None:
    fresh.start()

    class Node:
        other: Any = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    fresh.clock_.now += 5  # type: ignore[attr-defined]
    for _ in range(FREEZE_EVERY):
        fresh.grew()  # a and b are frozen now
    del a, b
    assert fresh.collect_all() >= 2


def test_off_leaves_the_gc_alone(fresh: Collector, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(collector.ENV, "0")
    live = Application(secret="gc")
    live.add_template("t", "<b>{{ n }}</b>")
    live.new_page("t", {"n": 1})
    assert not fresh.active and gc.get_freeze_count() == 0
    monkeypatch.setenv(collector.ENV, "1")
    assert Application(secret="gc").tune_gc and not Application(secret="gc", tune_gc=False).tune_gc
