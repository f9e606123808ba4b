"""Rows as users write them reach the DOM as small patches: a list keyed by an id with a prefix
(``id="todo-{{ t.id }}"``) and a grid of numbers with no key attribute.  MutationObserver counts
what each update touched."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, open_live
from tests.browser.test_bindings import OBSERVE, row_patch_report


def test_a_prefixed_key_row_is_patched_in_place(page: Any, play_server: LiveServer) -> None:
    open_live(page, play_server.url)
    expect(page.locator("#todos li")).to_have_count(200)
    page.evaluate("window.before = Array.from(document.querySelectorAll('#todos li'))")
    page.evaluate(OBSERVE)
    page.click("#todo-150 button")
    expect(page.locator("#todo-150")).to_have_class("done")
    expect(page.locator("#todo-150 button")).not_to_have_class("lvt-loading")
    result = row_patch_report(page, "#todo-150", "#todos li")
    assert result["outside"] == 0 and result["same"], result
    assert result["fullRenders"] == 0, result  # the client found the row by id="todo-150"


def test_unkeyed_grid_cell_edits_touch_only_those_cells(page: Any,
                                                        play_server: LiveServer) -> None:
    open_live(page, play_server.url)
    expect(page.locator("#grid td")).to_have_count(100)
    page.evaluate("window.cells = Array.from(document.querySelectorAll('#grid td'))")
    page.evaluate(OBSERVE)
    page.click("#bump")
    expect(page.locator("#grid tr").nth(9).locator("td").nth(9)).to_have_text("1099")
    expect(page.locator("#bump")).not_to_have_class("lvt-loading")
    result = page.evaluate("""() => {
        const bumped = [[0, 0], [4, 5], [9, 9]].map(([r, c]) => window.cells[10 * r + c]);
        const after = Array.from(document.querySelectorAll('#grid td'));
        const inGrid = window.records.filter((r) => document.getElementById('grid').contains(r.target));
        return {
            texts: bumped.map((td) => td.textContent),
            inGrid: inGrid.length,
            elsewhere: inGrid.filter((r) => !bumped.some((td) => td.contains(r.target))).length,
            same: after.length === 100 && after.every((el, i) => el === window.cells[i]),
        };
    }""")
    assert result["texts"] == ["1000", "1045", "1099"], result
    assert result["same"] and result["elsewhere"] == 0, result
    assert 1 <= result["inGrid"] <= 6, result  # one text change per bumped cell
