"""The morph in Chromium on a corpus of from/to DOM cases of our own.

Every case: morphing ``from`` into ``to`` gives the same DOM as parsing ``to`` afresh (nodes and
attributes, and the form properties a parse sets: value, checked, selected); every element whose
id both sides have is the same object afterwards (moved, not recreated). The focus cases type into
an input first, then check that it kept focus, caret and typed value wherever the patch put it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CLIENT = Path(__file__).parents[2] / "src" / "livetemplate" / "static" / "livetemplate-client.js"

RUN = """([from, to, focus]) => {
  const C = window.LiveTemplateClient;
  const box = document.getElementById('box');
  box.innerHTML = from;
  const before = new Map(Array.from(box.querySelectorAll('[id]'), (el) => [el.id, el]));
  let typed = null;
  if (focus) {
    typed = box.querySelector('#' + focus);
    typed.focus();
    typed.value = 'typed text';
    typed.setSelectionRange(2, 5);
  }
  const t = document.createElement('template');
  t.innerHTML = to;
  C.morph(box, t.content);
  const fresh = document.createElement('div');
  fresh.id = 'box';
  fresh.innerHTML = to;
  const props = (root) => Array.from(root.querySelectorAll('input, option, textarea, select'),
    (el) => [el.tagName, el.type, el.value, el.checked, el.selected, el.defaultValue]);
  // An id both sides have, same tag: its first element now is the one it was before.
  const first = (id) => box.querySelector('#' + CSS.escape(id));
  const same = [...before.keys()].filter((id) => fresh.querySelector('#' + CSS.escape(id))
                                                  && before.get(id).tagName === first(id).tagName);
  return {
    equal: box.isEqualNode(fresh), html: box.innerHTML, want: fresh.innerHTML,
    props: JSON.stringify(props(box)) === JSON.stringify(props(fresh)) || !!focus,
    kept: same.every((id) => before.get(id) === first(id)),
    lost: same.filter((id) => before.get(id) !== first(id)),
    focus: typed && [document.activeElement === typed, typed.isConnected, typed.value,
                     typed.selectionStart, typed.selectionEnd],
  };
}"""

MOVES = {
    "wrap": ('<input id="f"><p>x</p>', '<div class="w"><input id="f"></div><p>x</p>'),
    "unwrap": ('<div class="w"><input id="f"></div><p>x</p>', '<input id="f"><p>x</p>'),
    "retag parent": ('<div><input id="f"></div>', '<section><input id="f"></section>'),
    "retag keyed parent": ('<div id="p"><input id="f"></div>', '<form id="p"><input id="f"></form>'),
    "to a later parent": ('<div id="a"><input id="f"></div><div id="b"><i>b</i></div>',
                          '<div id="a"></div><div id="b"><i>b</i><input id="f"></div>'),
    "to an earlier parent": ('<div id="a"><i>a</i></div><div id="b"><input id="f"></div>',
                             '<div id="a"><input id="f"><i>a</i></div><div id="b"></div>'),
    "out of a removed wrapper, later": ('<div><input id="f"></div><p>t</p>',
                                        '<p>t</p><input id="f">'),
    "deeper and renamed": ('<ul><li><input id="f"></li></ul>',
                           '<ol class="n"><li><span><label>L<input id="f"></label></span></li></ol>'),
    "keyed row to another list": (
        '<ul id="l1"><li id="r1"><input id="f"></li><li id="r2">2</li></ul><ul id="l2"></ul>',
        '<ul id="l1"><li id="r2">2</li></ul><ul id="l2"><li id="r1"><input id="f"></li></ul>'),
    "data-key rows regrouped": (
        '<div id="g1"><p data-key="1" id="k1"><input id="f"></p><p data-key="2" id="k2">2</p></div>'
        '<div id="g2"><p data-key="3" id="k3">3</p></div>',
        '<div id="g1"><p data-key="3" id="k3">3</p></div>'
        '<div id="g2"><p data-key="2" id="k2">2!</p><p data-key="1" id="k1"><input id="f"></p></div>'),
    "textarea wrapped": ('<textarea id="f">a</textarea>', '<label>T <textarea id="f">a</textarea></label>'),
}

CONTENT = {
    "text": ("<p>a</p>", "<p>b</p>"),
    "append and prepend": ("<i>1</i>", "<b>0</b><i>1</i><u>2</u>"),
    "remove all": ("<i>1</i>text<!--c--><b>2</b>", ""),
    "tag change": ("<p>a</p><div>b</div>", "<div>a</div><p>b</p>"),
    "attributes": ('<p class="a" title="t" data-x="1">a</p>', '<p class="b" data-y="2">a</p>'),
    "comments": ("<!--a--><p>x</p><!--b-->", "<!--b--><p>y</p>"),
    "svg": ('<svg><use href="#a"></use><circle r="1"></circle></svg>',
            '<svg viewBox="0 0 1 1"><use href="#b"></use></svg>'),
    "keyed reverse": ('<li id="a">a</li><li id="b">b</li><li id="c">c</li>',
                      '<li id="c">c</li><li id="b">b</li><li id="a">a</li>'),
    "swap parents": ('<div id="a"><p id="x">x</p></div><div id="b"><p id="y">y</p></div>',
                     '<div id="a"><p id="y">y</p></div><div id="b"><p id="x">x</p></div>'),
    "nesting inverted": ('<div id="a"><span id="b">x</span></div>',
                         '<span id="b"><div id="a">y</div></span>'),
    "id changes tag": ('<p id="a">x</p>', '<div id="a">x</div>'),
    "duplicate ids in to": ('<p id="a">x</p>', '<p id="a">1</p><div><p id="a">2</p></div>'),
    "select options": ('<select><option selected>a</option><option>b</option></select>',
                       '<select><option>a</option><option selected>b</option><option>c</option></select>'),
    "select unselected": ('<select><option>a</option><option selected>b</option></select>',
                          '<select><option>a</option><option>b</option></select>'),
    "textarea text": ("<textarea>a</textarea>", "<textarea>b</textarea>"),
    "claimed by id, then wanted by key": (
        '<li data-key="1" id="x">a</li><li data-key="2">b</li>',
        '<div data-key="0"><li id="x">moved</li></div><li data-key="1">a</li>'),
    "whitespace text between elements": ("<p>a</p>\n  <p>b</p>", "<p>a</p>\n<i>x</i>\n  <p>b</p>  "),
    "insert into the middle of a keyed list": (
        '<li id="a">a</li><li id="c">c</li>', '<li id="a">a</li><li id="b">b</li><li id="c">c</li>'),
    "an element's id changes": ('<p id="a">x</p><p id="b">y</p>', '<p id="z">x</p><p id="b">y</p>'),
    "ids gained and lost": ("<p>1</p><p id='x'>2</p>", "<p id='y'>1</p><p>2</p>"),
    "id'd element up two levels": ('<div><div><b id="x">x</b></div></div><i>i</i>',
                                   '<b id="x">x</b><div><div></div></div><i>i</i>'),
    "id'd element down two levels": ('<b id="x">x</b><div><div></div></div>',
                                     '<div><div><b id="x">x!</b></div></div>'),
    "nested ids both move": ('<div id="o"><div id="i">i</div></div><section></section>',
                             '<section><div id="i">i</div></section><div id="o"></div>'),
    "form with every kind of field": (
        '<form><input name="a" value="1"><input type="checkbox" name="b" checked>'
        '<select name="c"><option>x</option><option selected>y</option></select>'
        '<textarea name="d">t</textarea></form>',
        '<form class="f"><input name="a" value="2"><input type="checkbox" name="b">'
        '<select name="c"><option selected>x</option><option>y</option></select>'
        '<textarea name="d">u</textarea><button>go</button></form>'),
    "table rows": ('<table><tbody><tr id="r1"><td>1</td></tr><tr id="r2"><td>2</td></tr></tbody></table>',
                   '<table><tbody><tr id="r2"><td>2</td></tr><tr id="r3"><td>3</td></tr></tbody></table>'),
}

TYPES = {"text": "v", "search": "v", "email": "a@b.c", "url": "http://x/", "tel": "1",
         "password": "pw", "number": "5", "range": "30", "color": "#ff0000", "date": "2024-01-02",
         "datetime-local": "2024-01-02T03:04", "month": "2024-01", "week": "2024-W02",
         "time": "03:04", "checkbox": "yes", "radio": "yes", "submit": "Save", "button": "Go",
         "reset": "Undo", "hidden": "h", "file": "", "image": "i"}
ATTRS = ["value", "checked", "placeholder", "disabled", "readonly", "required", "name"]


def _input(kind: str, attrs: list[str]) -> str:
    parts = [f'type="{kind}"']
    for a in attrs:
        parts.append({"value": f'value="{TYPES[kind]}"', "checked": "checked",
                      "placeholder": 'placeholder="p"', "name": 'name="n"'}.get(a, a))
    return f"<input {' '.join(parts)}>"


INPUTS: dict[str, tuple[str, str]] = {}
for _kind in TYPES:
    for _attr in ATTRS:
        INPUTS[f"{_kind} -{_attr}"] = (_input(_kind, ATTRS), _input(_kind, [a for a in ATTRS if a != _attr]))
        INPUTS[f"{_kind} +{_attr}"] = (_input(_kind, []), _input(_kind, [_attr]))
    INPUTS[f"{_kind} -all"] = (_input(_kind, ATTRS), _input(_kind, []))
INPUTS["option -selected"] = ('<select multiple><option value="a" selected>a</option></select>',
                              '<select multiple><option value="a">a</option></select>')
INPUTS["option -value"] = ('<select><option value="a">x</option></select>',
                           "<select><option>x</option></select>")
INPUTS["textarea -text"] = ("<textarea>abc</textarea>", "<textarea></textarea>")


@pytest.fixture(scope="module")
def blank(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    page.set_content("<!doctype html><html><head></head><body><div id='box'></div></body></html>")
    page.add_script_tag(path=str(CLIENT))
    yield page
    page.close()


def _check(result: dict[str, Any]) -> None:
    assert result["equal"], (result["html"], result["want"])
    assert result["props"], result["html"]
    assert result["kept"], result["lost"]


@pytest.mark.parametrize("name", CONTENT)
def test_content_and_identity(blank: Any, name: str) -> None:
    _check(blank.evaluate(RUN, [*CONTENT[name], None]))


@pytest.mark.parametrize("name", INPUTS)
def test_every_handled_attribute_on_every_input_type(blank: Any, name: str) -> None:
    _check(blank.evaluate(RUN, [*INPUTS[name], None]))


@pytest.mark.parametrize("name", MOVES)
def test_moved_elements_keep_identity(blank: Any, name: str) -> None:
    _check(blank.evaluate(RUN, [*MOVES[name], None]))


@pytest.mark.parametrize("name", MOVES)
def test_moved_input_keeps_focus_caret_and_typed_value(blank: Any, name: str) -> None:
    result = blank.evaluate(RUN, [*MOVES[name], "f"])
    assert result["kept"], result["lost"]
    assert result["focus"] == [True, True, "typed text", 2, 5]


def test_removed_value_leaves_checkbox_on_and_buttons_labelled(blank: Any) -> None:
    """The user checks a box; the server drops its value attribute: it submits "on"."""
    got = blank.evaluate("""() => {
      const C = window.LiveTemplateClient, box = document.getElementById('box');
      box.innerHTML = '<input type="checkbox" value="x"><input type="submit" value="Save">'
                    + '<input type="radio" value="r"><input type="hidden" value="h">';
      box.firstChild.checked = true;
      const t = document.createElement('template');
      t.innerHTML = '<input type="checkbox"><input type="submit"><input type="radio"><input type="hidden">';
      C.morph(box, t.content);
      return [...box.children].map((el) => [el.type, el.value, el.hasAttribute('value'), el.checked]);
    }""")
    assert got == [["checkbox", "on", False, True], ["submit", "", False, False],
                   ["radio", "on", False, False], ["hidden", "", False, False]]


def test_ignored_region_keeps_its_elements(blank: Any) -> None:
    got = blank.evaluate("""() => {
      const C = window.LiveTemplateClient, box = document.getElementById('box');
      box.innerHTML = '<div lvt-ignore><input id="w"><b>widget</b></div><p>1</p>';
      const w = box.querySelector('#w');
      const t = document.createElement('template');
      t.innerHTML = '<div lvt-ignore></div><p>2</p><section><input id="w"></section>';
      C.morph(box, t.content);
      return [box.querySelector('[lvt-ignore]').contains(w), box.querySelectorAll('#w').length,
              box.querySelector('p').textContent];
    }""")
    assert got == [True, 2, "2"]


RANDOM = """(seed) => {
  // A small seeded generator of element trees: a few tags, some ids (shared between the two
  // sides, so elements move between parents), data-keys among siblings, text in between.
  let x = seed;
  const rnd = (n) => { x = (x * 1103515245 + 12345) % 2147483648; return x % n; };
  const tags = ['div', 'p', 'span', 'section', 'input', 'ul', 'li'];
  const gen = (depth, used) => {
    let html = '';
    for (let i = rnd(4); i > 0; i--) {
      if (rnd(4) === 0) { html += 'text' + rnd(3); continue; }
      const tag = tags[rnd(tags.length)];
      let attrs = '';
      const id = 'id' + rnd(6);
      if (rnd(2) === 0 && !used.has(id)) { used.add(id); attrs += ` id="${id}"`; }
      if (rnd(5) === 0) attrs += ` data-key="k${rnd(3)}"`;
      if (rnd(3) === 0) attrs += ` class="c${rnd(3)}"`;
      html += tag === 'input' ? `<input${attrs}>`
        : `<${tag}${attrs}>${depth < 3 ? gen(depth + 1, used) : ''}</${tag}>`;
    }
    return html;
  };
  const C = window.LiveTemplateClient, box = document.getElementById('box');
  const bad = [];
  for (let n = 0; n < 300; n++) {
    const from = gen(0, new Set()), to = gen(0, new Set());
    box.innerHTML = from;
    const before = new Map(Array.from(box.querySelectorAll('[id]'), (el) => [el.id, el]));
    const t = document.createElement('template');
    t.innerHTML = to;
    try { C.morph(box, t.content); } catch (e) { bad.push([from, to, String(e)]); continue; }
    const fresh = document.createElement('div');
    fresh.id = 'box';
    fresh.innerHTML = to;
    if (!box.isEqualNode(fresh)) { bad.push([from, to, box.innerHTML]); continue; }
    for (const [id, old] of before) {
      const now = box.querySelector('#' + id);
      // Kept when it could be: same tag, not now an ancestor of where it used to live.
      if (now && now.tagName === old.tagName && now !== old && !now.contains(old)
          && !old.contains(now)) bad.push([from, to, 'recreated #' + id]);
    }
  }
  return bad;
}"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_trees(blank: Any, seed: int) -> None:
    bad = blank.evaluate(RANDOM, seed)
    assert bad == [], bad[:3]
