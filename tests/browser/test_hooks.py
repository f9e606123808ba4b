"""Hooks in Chromium: lifecycle, pushEvent, server events, and what patches leave alone.

The test page's hooks note every callback in ``window.hookLog`` (``tests/browser/interactive.py``).
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, open_live

ERRORS = """() => { window.lvtErrors = [];
  document.addEventListener('lvt:error', (e) => window.lvtErrors.push([e.detail.code, e.detail.message])); }"""


def hook_log(page: Any) -> list[str]:
    return list(page.evaluate("window.hookLog"))


def token(page: Any) -> str:
    return str(page.get_attribute('meta[name="livetemplate-token"]', "content"))


def test_lifecycle_and_server_events(page: Any, interactive_server: LiveServer) -> None:
    open_live(page, interactive_server.url)
    assert hook_log(page) == ["mounted chart"]
    page.evaluate("window.chartEl = document.getElementById('chart')")
    page.click("#touch")  # an update elsewhere: the hook element is not touched
    expect(page.locator("#other")).to_have_text("1")
    assert hook_log(page) == ["mounted chart"]
    page.click("#chart-inc")  # its attribute and text change, and the action pushes an event
    expect(page.locator("#chart .label")).to_have_text("1")
    page.wait_for_function("window.hookLog.length === 3")
    assert hook_log(page)[1:] == ["updated chart", 'points {"n":1} chart']
    # The hook's drawing lives in an lvt-ignore region; the element is the same object.
    expect(page.locator("#chart .canvas")).to_have_text("drawn")
    assert page.evaluate("window.chartEl === document.getElementById('chart')")
    page.click("#chart-toggle")
    expect(page.locator("#chart")).to_have_count(0)
    assert hook_log(page)[-1] == "destroyed chart"
    page.click("#chart-toggle")
    expect(page.locator("#chart")).to_have_count(1)
    assert hook_log(page)[-1] == "mounted chart"
    # A destroyed hook's event handlers are gone: one 'points' note, from the new one.
    page.click("#ping")
    page.wait_for_function("window.hookLog.some((e) => e.startsWith('points {\"ping\"'))")
    assert sum(e.startswith('points {"ping"') for e in hook_log(page)) == 1


def test_push_event_from_a_hook_and_from_the_server(page: Any,
                                                     interactive_server: LiveServer) -> None:
    open_live(page, interactive_server.url)
    page.click("#pusher")  # the hook's own click listener: this.pushEvent('bump', {by: '5'})
    expect(page.locator("#count")).to_have_text("5")
    expect(page.locator("#pusher")).not_to_have_class("lvt-loading")
    page.evaluate("(t) => fetch('/push?token=' + encodeURIComponent(t), {method: 'POST'})",
                  token(page))
    page.wait_for_function("window.hookLog.includes('points {\"pushed\":true} chart')")


def test_failing_and_unknown_hooks_are_reported_and_harmless(page: Any,
                                                              interactive_server: LiveServer) -> None:
    page.add_init_script(f"({ERRORS})()")
    open_live(page, interactive_server.url)
    errors = page.evaluate("window.lvtErrors")
    assert ["hook", "Broken.mounted: Error: broken hook"] in errors
    assert ["hook", 'no hook named "Nope"'] in errors
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    assert len(page.evaluate("window.lvtErrors")) == len(errors)  # reported once, not per patch


def test_a_hook_element_and_a_focused_input_moved_by_the_server(page: Any,
                                                                interactive_server: LiveServer) -> None:
    """The server wraps them in a new element, then unwraps them: both are moved, not remade."""
    open_live(page, interactive_server.url)
    page.evaluate("window.els = [document.getElementById('chart'), document.getElementById('note')]")
    page.click("#note")
    page.keyboard.type("half typed")
    page.keyboard.press("ArrowLeft")
    for wrapped in (1, 0):
        page.evaluate("window.liveTemplate.send('wrap')")  # focus stays in #note
        expect(page.locator("section.wrap #chart")).to_have_count(wrapped)
        assert page.evaluate("""() => [window.els[0] === document.getElementById('chart'),
            window.els[1] === document.activeElement, document.activeElement.value,
            document.activeElement.selectionStart]""") == [True, True, "half typed", 9]
    assert hook_log(page) == ["mounted chart"]  # no destroyed/mounted: the same element
    expect(page.locator("#chart .canvas")).to_have_text("drawn")
