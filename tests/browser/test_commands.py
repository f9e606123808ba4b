"""Client-side commands in Chromium: no round trip, chained with an action, kept across patches.

``window.sent`` lists the actions the page sent over its WebSocket, so "no round trip" is checked
against what was sent, not guessed from the DOM.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, open_live

COUNT_SENT = """window.sent = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) { window.sent.push(JSON.parse(data).action);
                                             return send.call(this, data); };
window.lvtErrors = [];
document.addEventListener('lvt:error', (e) => window.lvtErrors.push([e.detail.code, e.detail.message]));"""


def sent(page: Any) -> list[str]:
    return list(page.evaluate("window.sent"))


def start(page: Any, server: LiveServer) -> Any:
    page.add_init_script(COUNT_SENT)
    return open_live(page, server.url)


def test_toggle_and_class_survive_unrelated_updates(page: Any,
                                                    interactive_server: LiveServer) -> None:
    start(page, interactive_server)
    page.click("#toggle-menu")
    expect(page.locator("#menu")).to_be_visible()
    expect(page.locator("#toggle-menu")).to_have_class("open")
    assert sent(page) == []
    # Sent from code: a click elsewhere would close the menu (lvt-click-away).
    page.evaluate("window.liveTemplate.send('touch')")  # an update elsewhere
    expect(page.locator("#other")).to_have_text("1")
    expect(page.locator("#menu")).to_be_visible()
    page.evaluate("window.liveTemplate.send('inc')")  # an update inside the menu itself
    expect(page.locator("#menu li")).to_have_text("1")
    expect(page.locator("#menu")).to_be_visible()
    expect(page.locator("#toggle-menu")).to_have_class("open")
    page.click("#toggle-menu")
    expect(page.locator("#menu")).to_be_hidden()
    expect(page.locator("#toggle-menu")).not_to_have_class("open")
    assert sent(page) == ["touch", "inc"]


def test_commands_chained_with_an_action(page: Any, interactive_server: LiveServer) -> None:
    start(page, interactive_server)
    page.click("#save")  # add_class, set_attr, remove_attr, then the action inc
    status = page.locator("#status")
    expect(status).to_have_text("1")  # the reply re-rendered #status
    expect(status).to_have_class("idle saving")
    expect(status).to_have_attribute("data-state", "saving")
    assert page.evaluate("document.getElementById('status').hasAttribute('title')") is False
    assert sent(page) == ["inc"]


def test_click_away_window_keys_focus_and_dispatch(page: Any,
                                                   interactive_server: LiveServer) -> None:
    start(page, interactive_server)
    page.click("#toggle-menu")
    page.click("#menu li")  # inside: stays open
    expect(page.locator("#menu")).to_be_visible()
    page.click("#count")  # outside: lvt-click-away="hide(#menu)"
    expect(page.locator("#menu")).to_be_hidden()
    page.keyboard.press("x")
    expect(page.locator("#panel")).to_be_hidden()
    page.keyboard.press("k")  # lvt-window-keydown="show(#panel)" lvt-key="k"
    expect(page.locator("#panel")).to_be_visible()
    page.click("#focus-name")
    assert page.evaluate("document.activeElement.id") == "name"
    page.click("#dispatch")  # dispatch(click, #inc): #inc's own binding sends inc
    expect(page.locator("#count")).to_have_text("1")
    assert [a for a in sent(page) if a not in ("focused", "blurred")] == ["inc"]
    assert "focused" in sent(page)


def test_bad_commands_are_reported_not_sent(page: Any, interactive_server: LiveServer) -> None:
    start(page, interactive_server)
    page.click("#bad")  # explode(#menu); hide(#menu   <- unknown, then unterminated
    errors = [e for e in page.evaluate("window.lvtErrors") if e[0] != "hook"]
    assert [code for code, _ in errors] == ["command", "command"]
    assert "unknown command explode" in errors[0][1]
    assert sent(page) == []
