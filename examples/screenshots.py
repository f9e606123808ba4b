"""Screenshots of the examples in real Chromium, written to docs/screenshots/ (``scripts/screenshots``).

Each example is served by uvicorn in this process (the browser tests' ``LiveServer``), driven
through a few actions with playwright, and captured; ``--only todo,counter`` limits the run.
Uses Debian's /usr/bin/chromium (``scripts/install-browser``), never a downloaded browser.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LIVE, LiveServer

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 760, "height": 620}
PHONE = {"width": 390, "height": 700}


def counter(page: Any, server: LiveServer) -> None:
    for _ in range(3):
        page.click("#inc")
    expect(page.locator("#count")).to_have_text("3")


def counter_offline(page: Any, server: LiveServer) -> None:
    page.click("#inc")
    expect(page.locator("#count")).to_have_text("1")
    server.stop()
    page.wait_for_function("() => document.body.classList.contains('lvt-disconnected')")


def dashboard(page: Any, server: LiveServer) -> None:
    page.click("#inc")
    page.click("#inc")
    for note in ("Deployed v1.4 to staging", "Smoke tests green"):
        page.fill("#note-form input[name=text]", note)
        page.press("#note-form input[name=text]", "Enter")
        expect(page.locator("#events li").last).to_have_text(note)
    page.click("#note-form button")  # empty: the validation error state
    expect(page.locator("#text-error")).to_be_visible()


def todo(page: Any, server: LiveServer) -> None:
    titles = ("Buy oat milk", "Write the release notes", "Call the plumber about the boiler",
              "Book flights to Lisbon")
    for title in titles:
        page.fill("input[name=title]", title)
        page.press("input[name=title]", "Enter")
        expect(page.locator("#todos li").last).to_contain_text(title)
    for n in (0, 2):
        page.locator("#todos li").nth(n).locator("input[type=checkbox]").click()
    expect(page.locator("#remaining")).to_have_text("2 left")
    page.locator("#todos li").nth(1).hover()  # shows the delete button of a row
    page.wait_for_timeout(300)  # the buttons' fade (CSS transition) has ended


def todo_phone(page: Any, server: LiveServer) -> None:
    todo(page, server)
    page.click("a#filter-active")
    expect(page.locator("#todos li")).to_have_count(2)


def chat(page: Any, server: LiveServer) -> None:
    for author, text in (("ann", "Morning! Is the deploy still on for 3pm?"),
                         ("bob", "Yes, staging looks good."),
                         ("ann", "Great, I'll post the release notes.")):
        page.evaluate("([a, t]) => window.liveTemplate.send('send', {author: a, text: t})",
                      [author, text])
    expect(page.locator("#messages li")).to_have_count(3)
    page.fill("#author", "carol")
    page.click("#toggle-members")
    expect(page.locator("#members")).to_be_visible()


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG image (for the gallery's thumbnails)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def gallery(page: Any, server: LiveServer) -> None:
    page.set_input_files("#file", [
        {"name": "harbour.png", "mimeType": "image/png", "buffer": png(64, 64, (37, 99, 235))},
        {"name": "meadow.png", "mimeType": "image/png", "buffer": png(64, 64, (21, 128, 61))},
    ])
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#files li")).to_have_count(2)
    page.set_input_files("#file", [{"name": "notes.txt", "mimeType": "text/plain",
                                    "buffer": b"not an image"}])
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-error")).to_contain_text("not an accepted type")


# shot name -> (example, scene, viewport)
SHOTS: dict[str, tuple[str, Callable[[Any, LiveServer], None], dict[str, int]]] = {
    "todo": ("todo", todo, VIEWPORT),
    "todo-phone": ("todo", todo_phone, PHONE),
    "counter": ("counter", counter, VIEWPORT),
    "counter-offline": ("counter", counter_offline, VIEWPORT),
    "dashboard": ("dashboard", dashboard, VIEWPORT),
    "chat": ("chat", chat, VIEWPORT),
    "gallery": ("gallery", gallery, {"width": 760, "height": 660}),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="", help="comma-separated shot names")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run scripts/install-browser", file=sys.stderr)
        return 2
    wanted = [s for s in args.only.split(",") if s] or list(SHOTS)
    args.out.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                     args=CHROMIUM_ARGS)
        for name in wanted:
            example, scene, viewport = SHOTS[name]
            server = LiveServer(importlib.import_module(f"examples.{example}.app").app).start()
            context = browser.new_context(viewport=viewport)
            try:
                page = context.new_page()
                page.goto(server.url)
                page.wait_for_function(LIVE)
                scene(page, server)
                path = args.out / f"{name}.png"
                page.screenshot(path=str(path))
                print(f"wrote {path}")
            finally:
                context.close()
                server.stop()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
