"""The client's merge in Chromium against the reference ``lt_engine.apply_update``.

Every golden fixture: the tree and each update merged by the client join to Jinja2's HTML, the
merged tree equals the reference merge's, and morphing a DOM from step to step gives the same DOM
as parsing the HTML afresh.  Bad updates fail in both, and good edge cases agree.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lt_engine

CLIENT = Path(__file__).parents[2] / "src" / "livetemplate" / "static" / "livetemplate-client.js"
GOLDEN = sorted((Path(__file__).parents[1] / "golden").glob("*.json"))

REPLAY = """([tree, updates]) => {
  const C = window.LiveTemplateClient, box = document.createElement('div');
  const render = (html) => {
    const next = document.createElement('template'), fresh = document.createElement('div');
    next.innerHTML = html;
    C.morph(box, next.content);
    next.innerHTML = html;
    fresh.append(next.content);
    return box.isEqualNode(fresh);
  };
  const steps = [{ html: C.toHtml(tree), tree, dom: render(C.toHtml(tree)) }];
  for (const update of updates) {
    C.applyUpdate(tree, update);
    const html = C.toHtml(tree);
    steps.push({ html, tree: JSON.parse(JSON.stringify(tree)), dom: render(html) });
  }
  return steps;
}"""

MERGE = """([tree, update]) => {
  try { return { tree: window.LiveTemplateClient.applyUpdate(tree, update) }; }
  catch (e) { return { error: e.name }; }
}"""

RANGE = {"s": ["<ul>", "</ul>"], "0": {"s": ["<li id=\"", "\">", "</li>"], "d": [
    {"0": "1", "1": "a"}, {"0": "2", "1": "b"}], "m": {"idKey": "0"}}}
UNKEYED = {"s": ["", ""], "0": {"s": ["<i>", "</i>"], "d": [{"0": "x", "_k": "k1"}]}}
# a stream (docs/protocol.md, Rule 9): inserts replace a key they hold, trimmed to the limit
STREAM = copy.deepcopy(RANGE)
STREAM["0"]["m"]["stream"] = 2
UNLIMITED = copy.deepcopy(RANGE)
UNLIMITED["0"]["m"]["stream"] = 0
CASES: list[tuple[dict[str, Any], Any]] = [
    (RANGE, {"0": [["r", "9"]]}),
    (RANGE, {"0": [["r", "1"], ["a", [{"0": "3", "1": "c"}], ["<p id=\"", "\">", "</p>"]]]}),
    (RANGE, {"0": [["p", [{"0": "0", "1": "z"}, {"0": "-1", "1": "y"}]]]}),
    (RANGE, {"0": [["i", "1", {"0": "5", "1": "e"}], ["o", ["2", "5", "1"]]]}),
    (RANGE, {"0": [["u", "2", {"1": "B"}]], "s": ["ignored"]}),
    (RANGE, {"0": {"d": []}}),
    (RANGE, {"0": {"s": ["x"]}, "1": "new slot"}),
    (RANGE, {"0": [["u", "9", {"1": "x"}]]}),
    (RANGE, {"0": [["i", "9", {"0": "5", "1": "e"}]]}),
    (RANGE, {"0": [["o", ["1"]]]}),
    (RANGE, {"0": [["o", ["1", "1"]]]}),
    (RANGE, {"0": [["o", ["1", "2", "3"]]]}),
    (RANGE, {"0": [["x", "1"]]}),
    (RANGE, {"0": 5}),
    (RANGE, {"0": None}),
    (RANGE, {"1": [["r", "1"]]}),
    (RANGE, {"1": {"0": "x"}}),
    (UNKEYED, {"0": [["u", "k1", {"0": "y"}], ["a", [{"0": "z", "_k": "k2"}]]]}),
    (UNKEYED, {"0": [["r", "k1"]]}),
    ({"s": ["", ""], "0": {"s": ["<i>", "</i>"], "d": [{"0": "x"}]}}, {"0": [["r", "x"]]}),
    (STREAM, {"0": [["a", [{"0": "2", "1": "B"}, {"0": "3", "1": "c"}]]]}),
    (STREAM, {"0": [["p", [{"0": "0", "1": "z"}]]]}),
    (STREAM, {"0": [["u", "9", {"1": "x"}], ["u", "1", {"1": "A"}]]}),
    (STREAM, {"0": [["a", [{"0": "5", "1": "x"}, {"0": "5", "1": "y"}, {"0": "1", "1": "q"}]]]}),
    (UNLIMITED, {"0": [["a", [{"0": "3", "1": "c"}, {"0": "4", "1": "d"}, {"0": "2", "1": "B"}]]]}),
    (UNLIMITED, {"0": [["p", [{"0": "4", "1": "d"}, {"0": "4", "1": "D"}]], ["r", "9"]]}),
]


@pytest.fixture(scope="module")
def blank(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_content("<!doctype html><html><head></head><body></body></html>")
    page.add_script_tag(path=str(CLIENT))
    yield page
    page.close()


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden_fixture_in_the_browser(blank: Any, path: Path) -> None:
    fixture = json.loads(path.read_text())
    updates = [step["update"] for step in fixture["steps"]]
    steps = blank.evaluate(REPLAY, [fixture["tree"], updates])
    expected = copy.deepcopy(fixture["tree"])
    assert steps[0]["html"] == fixture["html"]
    for i, (got, step) in enumerate(zip(steps[1:], fixture["steps"], strict=True), 1):
        expected = lt_engine.apply_update(expected, copy.deepcopy(step["update"]))
        assert got["html"] == step["html"], f"step {i}"
        assert got["tree"] == expected, f"step {i}: merged tree"
    assert all(s["dom"] for s in steps), [s["dom"] for s in steps]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_merge_agrees_with_reference(blank: Any, case: int) -> None:
    tree, update = CASES[case]
    try:
        want: dict[str, Any] = {"tree": lt_engine.apply_update(copy.deepcopy(tree), update)}
    except lt_engine.ProtocolError:
        want = {"error": "ProtocolError"}
    assert blank.evaluate(MERGE, [copy.deepcopy(tree), update]) == want


def test_morph_keeps_ignored_subtrees_and_keyed_identity(blank: Any) -> None:
    result = blank.evaluate("""() => {
      const C = window.LiveTemplateClient, box = document.createElement('div');
      const to = (html) => { const t = document.createElement('template'); t.innerHTML = html;
                             return t.content; };
      box.innerHTML = '<div lvt-ignore><b>server</b></div><li data-key="1">a</li><li data-key="2">b</li>';
      box.querySelector('b').textContent = 'widget';
      const [one, two] = box.querySelectorAll('li');
      C.morph(box, to('<div lvt-ignore><i>new</i></div><li data-key="2">B</li><li data-key="1">a</li>'));
      const lis = box.querySelectorAll('li');
      return [box.querySelector('[lvt-ignore]').innerHTML, lis[0] === two, lis[1] === one,
              lis[0].textContent];
    }""")
    assert result == ["<b>widget</b>", True, True, "B"]
