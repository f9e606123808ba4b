"""Uploads in Chromium, through the gallery example: the files, the refusals, progress, drop,
the HTTP fallback, and a disconnect mid-upload leaving no temporary file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer, open_live, serve

PNG = b"\x89PNG\r\n\x1a\n"
MB = 1024 * 1024
NO_WEBSOCKET = """window.WebSocket = class {
  constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006, reason: '' }), 0); }
  send() {} close() {} };"""


@pytest.fixture(scope="module")
def gallery_server() -> Iterator[LiveServer]:
    from examples.gallery.app import app

    yield from serve(app)


def uploads_dir() -> Path:
    from examples.gallery.app import live

    return live.uploads.directory


def held() -> list[Path]:
    return sorted(uploads_dir().iterdir())


def until(check: Any, what: str) -> None:
    deadline = time.monotonic() + 5
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.02)


def image(folder: Path, name: str, size: int) -> Path:
    path = folder / name
    path.write_bytes((PNG + bytes(size))[:size])
    return path


def upload(page: Any, *paths: Path) -> None:
    page.set_input_files("#file", [str(p) for p in paths])
    page.click("#upload-form button[type=submit]")


def test_upload_one_file(page: Any, gallery_server: LiveServer, tmp_path: Path) -> None:
    open_live(page, gallery_server.url)
    upload(page, image(tmp_path, "cat.png", 70_000))  # two chunks
    expect(page.locator("#files li")).to_have_count(1)
    expect(page.locator("#files li")).to_contain_text("cat.png")
    expect(page.locator("#files li")).to_contain_text("70000 bytes")
    expect(page.locator("#flash")).to_have_text("Uploaded 1 file.")
    expect(page.locator("#upload-error")).to_have_text("")
    expect(page.locator("#uploads li")).to_have_count(0)
    until(lambda: held() == [], "the temporary file is removed")
    stored = page.request.get(gallery_server.url + page.locator("#files img").get_attribute("src"))
    assert stored.ok and stored.headers["content-type"] == "image/png"
    assert stored.body() == image(tmp_path, "cat.png", 70_000).read_bytes()


def test_upload_three_files(page: Any, gallery_server: LiveServer, tmp_path: Path) -> None:
    open_live(page, gallery_server.url)
    sizes = {"a.png": 10, "b.jpg": 200_000, "c.webp": 1}
    upload(page, *(image(tmp_path, n, s) for n, s in sizes.items()))
    expect(page.locator("#files li")).to_have_count(3)
    for (name, size), li in zip(sizes.items(), page.locator("#files li").all(), strict=True):
        expect(li).to_contain_text(name)
        expect(li).to_contain_text(f"{size} bytes")
    expect(page.locator("#flash")).to_have_text("Uploaded 3 files.")
    until(lambda: held() == [], "the temporary files are removed")


@pytest.mark.parametrize("files, why", [
    ({"notes.txt": 10}, "notes.txt is not an accepted type (accepted: .png, .jpg, .gif, .webp)"),
    ({"huge.png": 6 * MB}, f"huge.png is too large: {6 * MB} bytes, the limit is {5 * MB} bytes"),
    ({f"{i}.png": 5 for i in range(4)}, "too many files: 4 chosen, at most 3 per upload"),
])
def test_refusals_say_why(page: Any, gallery_server: LiveServer, tmp_path: Path,
                          files: dict[str, int], why: str) -> None:
    open_live(page, gallery_server.url)
    upload(page, *(image(tmp_path, n, s) for n, s in files.items()))
    expect(page.locator("#upload-error")).to_contain_text(why)
    expect(page.locator("#upload-error")).to_be_visible()
    expect(page.locator("#files li")).to_have_count(0)
    expect(page.locator("#upload-form")).not_to_have_class("lvt-loading")
    assert page.locator("#flash").count() == 0  # the action was never sent
    assert held() == []


def test_disconnect_mid_upload_leaves_no_temporary_file(page: Any, gallery_server: LiveServer,
                                                        tmp_path: Path) -> None:
    open_live(page, gallery_server.url)
    # The client reads each chunk from the file just before sending it: stall the fourth read,
    # so the upload stops with three chunks stored on the server.
    page.evaluate("""() => {
      const read = Blob.prototype.arrayBuffer; let n = 0;
      Blob.prototype.arrayBuffer = function () { return ++n > 3 ? new Promise(() => {}) : read.call(this); };
    }""")
    upload(page, image(tmp_path, "big.png", MB))
    progress = page.locator("#uploads li progress")
    expect(progress).to_have_attribute("value", "17")  # 3 x 60 KB of 1 MB: a live progress bar
    until(lambda: [p.stat().st_size for p in held()] == [3 * 61440], "three chunks stored")
    page.evaluate("() => window.liveTemplate.ws.close()")
    until(lambda: held() == [], "the temporary file is removed on disconnect")
    page.wait_for_function("() => window.liveTemplate.status === 'connected'")
    expect(page.locator("#uploads li")).to_have_count(0)
    expect(page.locator("#files li")).to_have_count(0)


def test_drop_files_on_the_drop_target(page: Any, gallery_server: LiveServer) -> None:
    open_live(page, gallery_server.url)
    page.evaluate("""() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(1234)], 'dropped.gif', { type: 'image/gif' }));
      document.querySelector('#drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }""")
    assert page.evaluate("document.querySelector('#file').files[0].name") == "dropped.gif"
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#files li")).to_contain_text("dropped.gif")
    expect(page.locator("#files li")).to_contain_text("1234 bytes")


def test_upload_over_the_http_fallback(context: Any, gallery_server: LiveServer,
                                       tmp_path: Path) -> None:
    page = context.new_page()
    page.add_init_script(NO_WEBSOCKET)
    page.goto(gallery_server.url)
    page.wait_for_function("() => !!window.liveTemplate")
    chunks: list[str] = []
    page.on("request", lambda r: chunks.append(r.headers.get("content-type", ""))
            if r.method == "POST" else None)
    upload(page, image(tmp_path, "slow.png", 150_000))  # three chunk POSTs
    expect(page.locator("#files li")).to_contain_text("150000 bytes")
    expect(page.locator("#flash")).to_have_text("Uploaded 1 file.")
    assert chunks.count("application/octet-stream") == 3
    until(lambda: held() == [], "the temporary file is removed")


# Each upload announcement over the HTTP fallback first starts a reconnect attempt (whose socket
# fails at once, as NO_WEBSOCKET's do) and reaches the server only after that attempt has failed.
RECONNECT_DURING_ANNOUNCEMENT = """(() => {
  const send = window.fetch;
  window.fetch = (url, options) => {
    if (options && typeof options.body === 'string' && options.body.includes('"type":"upload"')) {
      window.liveTemplate.open();
      return new Promise((resolve) => setTimeout(resolve, 200)).then(() => send(url, options));
    }
    return send(url, options);
  };
})();"""


def test_a_failed_reconnect_does_not_stop_an_upload_over_http(
        context: Any, gallery_server: LiveServer, tmp_path: Path) -> None:
    # Seen once in a full run: the fallback's upload stuck at 0% when a reconnect attempt failed
    # while its announcement was out (a socket that never opened stopped every upload).
    page = context.new_page()
    page.add_init_script(NO_WEBSOCKET)
    page.goto(gallery_server.url)
    page.wait_for_function("() => !!window.liveTemplate")
    page.evaluate(RECONNECT_DURING_ANNOUNCEMENT)
    upload(page, image(tmp_path, "raced.png", 70_000))
    expect(page.locator("#files li")).to_contain_text("70000 bytes")
    until(lambda: held() == [], "the temporary file is removed")
