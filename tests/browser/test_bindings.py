"""Bindings and DOM patching in Chromium: forms, debounce, key filters, focus, keyed rows."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, open_live

OBSERVE = """() => { window.records = [];
  new MutationObserver((rs) => window.records.push(...rs)).observe(document.body,
    { subtree: true, childList: true, attributes: true, characterData: true });
  const client = window.liveTemplate, morphAll = client.morphAll;
  client.fullRenders = 0;
  client.morphAll = function () { client.fullRenders++; return morphAll.call(this); }; }"""


def row_patch_report(page: Any, row: str, rows: str) -> dict[str, Any]:
    """After OBSERVE and one update: the mutations, those outside the element ``row``, whether
    the elements ``rows`` are the very ones saved as ``window.before``, and full renders."""
    return page.evaluate("""([rowSel, rowsSel]) => {
        const row = document.querySelector(rowSel);
        const after = Array.from(document.querySelectorAll(rowsSel));
        return {
            records: window.records.length,
            outside: window.records.filter((r) => !row.contains(r.target)).length,
            same: after.length === window.before.length && after.every((el, i) => el === window.before[i]),
            fullRenders: window.liveTemplate.fullRenders,
        };
    }""", [row, rows])


def test_form_submit_serialises_every_field(page: Any, play_server: LiveServer) -> None:
    open_live(page, play_server.url)
    page.fill("#form input[name=name]", "Ada")
    page.check("#form input[name=agree]")
    page.check("#form input[name=tags][value=a]")
    page.check("#form input[name=tags][value=c]")
    page.select_option("#form select[name=size]", "l")
    page.select_option("#form select[name=colors]", ["red", "blue"])
    page.check("#form input[name=plan][value=pro]")
    page.fill("#form textarea", "line 1\nline 2")
    page.click("#form button[type=submit]")
    expect(page.locator("#got")).not_to_have_text("")
    assert json.loads(page.text_content("#got") or "") == {
        "name": "Ada", "agree": "on", "tags": ["a", "c"], "size": "l",
        "colors": ["red", "blue"], "plan": "pro", "bio": "line 1\nline 2", "via": "save-button",
    }
    expect(page.locator("#form input[name=name]")).to_have_value("")  # reset after success
    page.click("#form button[type=submit]")
    expect(page.locator("#got")).to_contain_text('"agree": "off"')


def test_debounce_sends_once_with_the_last_value(page: Any, play_server: LiveServer) -> None:
    open_live(page, play_server.url)
    page.locator("#search").press_sequentially("livetemplate", delay=15)
    expect(page.locator("#q")).to_have_text("livetemplate")
    assert page.text_content("#searches") == "1"  # earlier sends would have been answered first


def test_lvt_key_filters_keys(page: Any, play_server: LiveServer) -> None:
    open_live(page, play_server.url)
    page.locator("#cmd").press_sequentially("ls -l", delay=5)
    page.press("#cmd", "Tab")
    page.focus("#cmd")
    page.press("#cmd", "Enter")
    expect(page.locator("#commands")).to_have_text("1")
    expect(page.locator("#last")).to_have_text("Enter:ls -l:cmd-line")
    page.press("#cmd", "ArrowLeft")
    page.press("#cmd", "Escape")
    expect(page.locator("#commands")).to_have_text("2")
    expect(page.locator("#last")).to_have_text("Escape:ls -l:cmd-line")


def test_typing_while_the_row_rerenders_keeps_keys_and_caret(page: Any,
                                                             play_server: LiveServer) -> None:
    open_live(page, play_server.url)
    field = page.locator("#edit-1")
    field.click()
    field.press_sequentially("hello world", delay=10)  # every key re-renders this row
    for _ in range(5):
        field.press("ArrowLeft")
    field.press_sequentially("big ", delay=10)
    expect(page.locator("#edits li[data-key='1'] .echo")).to_have_text("hello big world")
    expect(page.locator("#edits li[data-key='1'] .n")).to_have_text("15")
    assert field.input_value() == "hello big world"
    assert page.evaluate("[document.activeElement.id, document.activeElement.selectionStart,"
                         " document.activeElement.selectionEnd]") == ["edit-1", 10, 10]
    assert page.get_attribute("#edit-1", "value") == "hello big world"


def test_toggling_one_of_1000_rows_touches_only_that_row(page: Any,
                                                         play_server: LiveServer) -> None:
    open_live(page, f"{play_server.url}/?rows=1000")
    expect(page.locator("#rows li")).to_have_count(1000)
    page.evaluate("window.before = Array.from(document.querySelectorAll('#rows li'))")
    page.evaluate(OBSERVE)
    page.click("#rows li[data-key='500'] button")
    expect(page.locator("#rows li[data-key='500']")).to_have_class("on")
    expect(page.locator("#rows li[data-key='500'] button")).not_to_have_class("lvt-loading")
    result = row_patch_report(page, "#rows li[data-key='500']", "#rows li")
    assert result["outside"] == 0 and result["same"], result
    assert 1 <= result["records"] <= 6, result  # the row's class; the button's loading class
    assert result["fullRenders"] == 0, result  # the range op went straight to the row
