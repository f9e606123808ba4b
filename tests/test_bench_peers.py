"""``python -m bench.peers``: the peers' pages equal bench's, wrong output is caught, the report runs.

No timing assertions; the quick run needs the ``peers`` extra (pyview), which scripts/test installs.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench import workloads as base
from bench.harness import CorrectnessError
from bench.peers import workloads as peers
from bench.peers.contenders import Contender, join_phoenix, merge_phoenix, splice
from bench.peers.run import check

ROOT = Path(__file__).resolve().parent.parent


def test_peer_pages_are_the_bench_pages() -> None:
    assert peers.todo_dicts(base.W2_ROWS) == base.w2_build()
    assert peers.grid(base.W3_SIZE * base.W3_SIZE) == base.w3_build()
    assert peers.log_dicts(base.W4_MESSAGES) == base.w4_build()
    assert peers.todo_objects(base.W2_ROWS) == base.w2obj_build()
    assert peers.log_objects(base.W4_MESSAGES) == base.w4plain_build()


def test_untidy_templates_are_written_as_users_write_them() -> None:
    assert 'id="todo-{{ t.id }}"' in peers.W2_PREFIX and "data-key" not in peers.W2_PREFIX
    assert "data-key" not in peers.W2_NOKEY and "data-key" not in peers.W3_PLAIN
    assert "data-key" not in peers.W4_PLAIN


def test_htmx_answer_to_the_wrong_row_is_caught() -> None:
    wl = dataclasses.replace(peers.get("W2"), swaps=lambda data, k: peers.row_swaps(data, k + 1))
    with pytest.raises(CorrectnessError, match="htmx fragments, round 0"):
        check(Contender("htmx fragments", wl), wl, 50, rounds=3)


def test_a_contender_that_sends_nothing_is_caught() -> None:
    contender = Contender("Jinja2 re-render", peers.get("W1"))
    stale = contender.page
    contender.page = lambda data: _frozen(stale(data))  # type: ignore[method-assign]
    with pytest.raises(CorrectnessError, match="Jinja2 re-render, round 0"):
        check(contender, peers.get("W1"), 1, rounds=2)


def _frozen(page: object) -> object:
    shown = page.html()  # type: ignore[attr-defined]
    page.step = lambda touched: shown  # type: ignore[attr-defined]
    return page


def test_phoenix_tree_merge_and_join() -> None:
    tree = {"s": ["<p>", "</p><ul>", "</ul>"], "0": "a",
            "1": {"s": ["<li>", "</li>"], "d": [["x"], ["y"]]}}
    assert join_phoenix(tree) == "<p>a</p><ul><li>x</li><li>y</li></ul>"
    merged = merge_phoenix(tree, {"1": {"d": [["z"]]}})
    assert join_phoenix(merged) == "<p>a</p><ul><li>z</li></ul>"
    assert join_phoenix(merge_phoenix(tree, {"0": {"s": ["<b>", "</b>"], "0": "B"}})) \
        == "<p><b>B</b></p><ul><li>x</li><li>y</li></ul>"


def test_splice_replaces_and_appends_by_occurrence() -> None:
    html = '<ul id="l"><li>a</li><li>b</li></ul>'
    assert splice(html, "outer", "<li", 1, "<li>B</li>") == '<ul id="l"><li>a</li><li>B</li></ul>'
    assert splice(html, "beforeend", '<ul id="l"', 0, "<li>c</li>") \
        == '<ul id="l"><li>a</li><li>b</li><li>c</li></ul>'


def test_quick_run_prints_the_tables_and_writes_the_charts(tmp_path: Path) -> None:
    pytest.importorskip("pyview", reason="the peers extra: pip install -e '.[peers]'")
    proc = subprocess.run([sys.executable, "-m", "bench.peers", "--quick", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for wl in peers.PEER_WORKLOADS:
        assert f"| {wl.label} |" in proc.stdout
    for name in ("LiveTemplate", "pyview", "Jinja2 re-render", "htmx fragments"):
        assert name in proc.stdout
    assert (tmp_path / "peers.md").read_text().startswith("LiveTemplate vs peers")
    for page in ("W1", "W2"):  # through uvicorn, both frameworks, 1 and 50 connections
        for framework in ("LiveTemplate", "pyview"):
            for conns in (1, 50):
                assert f"| {page} | {framework} | {conns} |" in proc.stdout
    for chart in ("cost-vs-rows.svg", "bytes-per-action.svg"):
        assert ET.parse(tmp_path / chart).getroot().tag.endswith("svg")
