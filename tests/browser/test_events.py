"""Focus, blur, window keys, loading states and lvt-disable-with in Chromium."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, open_live


def log(page: Any) -> list[str]:
    return page.locator("#log li").all_text_contents()


def token(page: Any) -> str:
    return str(page.get_attribute('meta[name="livetemplate-token"]', "content"))


def post(page: Any, path: str) -> None:
    page.evaluate("([p, t]) => fetch(p + '?token=' + encodeURIComponent(t), {method: 'POST'})",
                  [path, token(page)])


def test_focus_and_blur_send_the_field(page: Any, interactive_server: LiveServer) -> None:
    open_live(page, interactive_server.url)
    page.click("#name")
    expect(page.locator("#log li")).to_have_count(1)
    page.keyboard.type("ann")
    # An update arrives while the field has focus: the patch moves no focus, sends no blur.
    page.evaluate("window.liveTemplate.send('touch')")
    expect(page.locator("#other")).to_have_text("1")
    page.click("#count")
    expect(page.locator("#log li")).to_have_count(2)
    assert log(page) == ["focus  name", "blur ann"]


def test_window_keys_with_a_filter(page: Any, interactive_server: LiveServer) -> None:
    open_live(page, interactive_server.url)
    for key in ("a", "Escape", "Enter", "ArrowUp"):
        page.keyboard.press(key)
    expect(page.locator("#log li")).to_have_count(2)
    page.evaluate("window.liveTemplate.send('touch')")  # every earlier action has run by its reply
    expect(page.locator("#other")).to_have_text("1")
    assert log(page) == ["key Escape", "key ArrowUp"]


def test_disable_with_and_loading_last_until_the_reply(page: Any,
                                                       interactive_server: LiveServer) -> None:
    open_live(page, interactive_server.url)
    slow = page.locator("#slow")
    slow.click()  # the action waits on the server until /release
    expect(slow).to_have_text("Working")
    expect(slow).to_be_disabled()
    expect(slow).to_have_class("lvt-loading")
    # A patch while it is in flight (the server holds this connection's other updates until its
    # action ends, so the client morphs the page against the server's HTML itself): the state
    # stays, and the element is the same one.
    page.evaluate("window.slowEl = document.getElementById('slow'); window.liveTemplate.render(null)")
    assert page.evaluate("window.slowEl === document.getElementById('slow')")
    expect(slow).to_have_text("Working")
    expect(slow).to_be_disabled()
    expect(slow).to_have_class("lvt-loading")
    post(page, "/release")
    expect(slow).to_have_text("Slow 1")  # the server's new label, not the one before the click
    expect(slow).to_be_enabled()
    expect(slow).not_to_have_class("lvt-loading")


def test_disable_with_inside_a_submitted_form(page: Any, interactive_server: LiveServer) -> None:
    open_live(page, interactive_server.url)
    page.evaluate("""() => { window.seen = [];
      new MutationObserver(() => { const b = document.getElementById('add');
        window.seen.push([b.textContent, b.disabled]); }).observe(document.getElementById('add'),
        { attributes: true, childList: true, characterData: true, subtree: true }); }""")
    page.fill("#title", "milk")
    page.press("#title", "Enter")
    expect(page.locator("#todos li")).to_have_text(["milk"])
    expect(page.locator("#add")).to_have_text("Add")
    expect(page.locator("#add")).to_be_enabled()
    expect(page.locator("#title")).to_have_value("")  # a successful submit resets the form
    assert ["Adding", True] in page.evaluate("window.seen")
