"""Replays the golden corpus (tests/golden/*.json): exact trees and updates of the wire format.

A failure here means the wire format changed.  If that is intended, regenerate with
``python -m tests.golden.regen`` and review the diff of the JSON files.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import lt_engine
from tests.golden.harness import environments

GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))


def test_corpus_is_complete() -> None:
    from tests.golden.cases import CASES

    assert {p.stem for p in GOLDEN} == {c["name"] for c in CASES}


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden(path: Path) -> None:
    fixture = json.loads(path.read_text())
    jtpl, tpl = environments(fixture)
    mounted = tpl.mount(copy.deepcopy(fixture["data"]))
    assert mounted.tree == fixture["tree"]
    assert jtpl.render(fixture["data"]) == fixture["html"]
    assert lt_engine.to_html(fixture["tree"]) == fixture["html"]
    client = copy.deepcopy(fixture["tree"])
    for i, step in enumerate(fixture["steps"], 1):
        update = mounted.update(copy.deepcopy(step["data"]))
        assert update == step["update"], f"step {i}"
        assert jtpl.render(step["data"]) == step["html"], f"step {i}: oracle"
        client = lt_engine.apply_update(client, update)
        assert lt_engine.to_html(client) == step["html"], f"step {i}: merged tree"
        assert mounted.html() == step["html"], f"step {i}: html()"
