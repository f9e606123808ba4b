"""Flash messages: ``ctx.flash`` in an action, ``flash`` in the template, shown once, carried
across a page load by a signed cookie (``livetemplate.flash``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from livetemplate import ActionContext, Application, Page, ValidationError
from livetemplate.flash import COOKIE, MAX_AGE, MAX_FLASH_CHARS, FlashSigner
from livetemplate.testing import mount
from tests.fake_shared_store import FakeSharedStore

TEMPLATE = (
    '<p id="n">{{ n }}</p>{% if flash.info %}<p class="flash-info">{{ flash.info }}</p>{% endif %}'
    '<ul>{% for kind, text in flash.items() %}<li class="{{ kind }}">{{ text }}</li>{% endfor %}'
    "</ul>"
)


class Saver:
    def __init__(self) -> None:
        self.n = 0

    def save(self, ctx: ActionContext) -> None:
        self.n += 1
        ctx.flash("info", f"Saved {self.n}.")

    def both(self, ctx: ActionContext) -> None:
        ctx.flash("info", "first")
        ctx.flash("info", "second")  # the last message of a kind wins
        ctx.flash("error", "<b>careful</b>")

    def refuse(self, ctx: ActionContext) -> None:
        ctx.flash("error", "Not saved.")
        raise ValidationError(n="no")

    def bump(self) -> None:
        self.n += 1

    def bad(self, ctx: ActionContext) -> None:
        ctx.flash(ctx.get("kind"), ctx.get("text"))


@pytest.fixture(params=["memory", "shared"])
def app(request: pytest.FixtureRequest) -> Application:
    app = Application(secret="flash-test",
                      store=FakeSharedStore() if request.param == "shared" else None)
    app.add_template("saver", TEMPLATE)
    return app


def act(page: Page, action: str, **data: Any) -> dict[str, Any]:
    return asyncio.run(page.run_action(action, data))


def test_a_flash_shows_after_its_action_and_goes_at_the_next(app: Application) -> None:
    page = app.new_page("saver", Saver())
    assert "flash-info" not in page.html()
    act(page, "save")
    assert '<p class="flash-info">Saved 1.</p>' in page.html()
    assert '<li class="info">Saved 1.</li>' in page.html()
    act(page, "bump")  # flashes nothing: the flash is gone
    assert "flash" not in page.html() and "<li" not in page.html()
    assert "flash" not in page.data


def test_kinds_escaping_and_the_last_message_of_a_kind(app: Application) -> None:
    page = app.new_page("saver", Saver())
    act(page, "both")
    html = page.html()
    assert '<p class="flash-info">second</p>' in html and "first" not in html
    assert '<li class="error">&lt;b&gt;careful&lt;/b&gt;</li>' in html


def test_a_refused_action_can_flash(app: Application) -> None:
    page = app.new_page("saver", Saver())
    reply = act(page, "refuse")
    assert reply["meta"]["success"] is False
    assert '<li class="error">Not saved.</li>' in page.html()


def test_the_update_carries_the_flash_like_any_slot() -> None:
    app = Application(secret="flash-test")
    app.add_template("saver", TEMPLATE)
    with mount(app, "saver", Saver()) as view:
        view.send("save")
        assert '<p class="flash-info">Saved 1.</p>' in view.html
        view.send("bump")
        assert "flash-info" not in view.html and view.html == view.page.html()


@pytest.mark.parametrize(("kind", "text", "error"), [
    (None, "x", TypeError), ("", "x", TypeError), ("info", 3, TypeError),
    ("info", "x" * (MAX_FLASH_CHARS + 1), ValueError), ("k" * 41, "x", ValueError),
    ("info", "half \ud83d", ValueError), ("\udfff", "x", ValueError),
])
def test_bad_flashes_fail_in_the_action(kind: Any, text: Any, error: type) -> None:
    ctx = ActionContext(None, "bad", {})  # type: ignore[arg-type]
    with pytest.raises(error):
        ctx.flash(kind, text)
    assert ctx.flashes == {}


def test_at_most_three_kinds() -> None:
    ctx = ActionContext(None, "x", {})  # type: ignore[arg-type]
    for kind in ("info", "error", "warning"):
        ctx.flash(kind, "m")
    ctx.flash("info", "again")  # an existing kind: replaced
    with pytest.raises(ValueError, match="at most 3"):
        ctx.flash("fourth", "m")


def test_a_bad_flash_is_an_action_failure_that_leaves_the_flash_as_it_was() -> None:
    app = Application(secret="flash-test")
    app.add_template("saver", TEMPLATE)
    page = app.new_page("saver", Saver())
    act(page, "save")
    reply = asyncio.run(app.handle_action(page, {"action": "bad", "data": {"kind": 1}}))
    assert reply["type"] == "error" and reply["code"] == "action_failed"
    assert "Saved 1." in page.html()


# --- carried across a page load -------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_signer_reads_back_what_it_signed_and_nothing_else() -> None:
    clock = Clock()
    signer = FlashSigner("s", clock)
    value = signer.sign({"info": "Moved \u2603 \U0001f600"})
    assert signer.read(value) == {"info": "Moved \u2603 \U0001f600"}
    assert FlashSigner("other secret", clock).read(value) == {}  # forged
    assert signer.read(value[:-2] + "xx") == {}
    for junk in ("", None, "not.a.flash", "x" * 10000, "\x00", "\ud800"):
        assert signer.read(junk) == {}
    assert signer.read(signer._serializer.dumps({"f": {"a": 1}, "e": 2e9})) == {}
    assert signer.read(signer._serializer.dumps(["f"])) == {}
    clock.now += MAX_AGE
    assert signer.read(value) == {}  # expired


def served_app(app: Application) -> Starlette:
    async def index(request: Request) -> Response:
        try:
            page = await app.load_page(request)
        except LookupError:
            page = app.new_page("saver", Saver())
        return page.serve_http(request)

    return Starlette(routes=[Route("/", index), *app.routes("/ws")])


def deleted(response: Any) -> bool:
    return any(h.startswith(f"{COOKIE}=") and "Max-Age=0" in h and "Path=/" in h
               for h in response.headers.get_list("set-cookie"))


def test_serve_http_shows_a_carried_flash_once_and_deletes_its_cookie(app: Application) -> None:
    with TestClient(served_app(app)) as client:
        assert "flash-info" not in client.get("/").text
        client.cookies.set(COOKIE, app.flash_signer.sign({"info": "Welcome back."}))
        response = client.get("/")
        assert '<p class="flash-info">Welcome back.</p>' in response.text
        assert deleted(response)
        client.cookies.delete(COOKIE)  # as the browser does (the test jar misses the domain)
        assert "flash-info" not in client.get("/").text  # a reload shows it no more


def test_a_forged_flash_cookie_shows_nothing(app: Application) -> None:
    with TestClient(served_app(app)) as client:
        client.cookies.set(COOKIE, FlashSigner("attacker").sign({"info": "Send money to X"}))
        response = client.get("/")
        assert response.status_code == 200 and "Send money" not in response.text
        assert deleted(response)


def test_a_reload_clears_a_flash_an_action_left(app: Application) -> None:
    with TestClient(served_app(app)) as client:
        client.get("/")
        page = next(iter(app.pages))
        act(page, "save")
        assert "Saved 1." in page.html()
        assert "flash-info" not in client.get("/").text
