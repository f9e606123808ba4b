from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

import lt_engine
from livetemplate import (
    ActionMessage,
    Application,
    DuplicateTemplateError,
    Limits,
    PageLimitError,
    PageNotFound,
    TemplateNotFoundError,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def request(query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query.encode(),
                    "headers": raw})


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def increment(self) -> None:
        self.count += 1


@pytest.fixture
def app() -> Application:
    app = Application(secret="test")
    app.add_template("counter", '<span id="count">{{ count }}</span>')
    return app


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_parse_files_expands_globs_and_names_by_file_name(tmp_path: Path) -> None:
    write(tmp_path, "a.html", "<p>{{ x }}</p>")
    write(tmp_path, "b.html", "{% include 'part.txt' %}")
    write(tmp_path, "part.txt", "<i>{{ x }}</i>")
    app = Application(secret="t")
    assert app.parse_files(str(tmp_path / "*.html")) == ["a", "b"]
    assert app.parse_files(tmp_path / "part.txt") == ["part"]
    assert app.template_names == ["a", "b", "part"]
    assert app.new_page("b", {"x": "&"}).html() == "<i>&amp;</i>"


def test_parse_files_errors_say_what_to_do(tmp_path: Path) -> None:
    app = Application(secret="t")
    with pytest.raises(TemplateNotFoundError, match="does not exist"):
        app.parse_files(tmp_path / "missing.html")
    with pytest.raises(TemplateNotFoundError, match="no template file matches"):
        app.parse_files(str(tmp_path / "*.html"))
    write(tmp_path, "one/page.html", "1")
    write(tmp_path, "two/page.html", "2")
    with pytest.raises(DuplicateTemplateError, match="rename one"):
        app.parse_files(str(tmp_path / "*/page.html"))
    app.parse_files(tmp_path / "one/page.html")
    app.parse_files(tmp_path / "one/page.html")  # the same file again is fine
    with pytest.raises(DuplicateTemplateError):
        app.parse_files(tmp_path / "two/page.html")


def test_compile_errors_surface_at_parse_time(tmp_path: Path) -> None:
    write(tmp_path, "bad.html", "{% for x in y %}{{ x }}")
    with pytest.raises(jinja2_errors()):
        Application(secret="t").parse_files(tmp_path / "bad.html")


def jinja2_errors() -> tuple[type[Exception], ...]:
    import jinja2

    return (lt_engine.CompileError, jinja2.TemplateSyntaxError)


def test_unknown_template_lists_the_registered_ones(app: Application) -> None:
    with pytest.raises(TemplateNotFoundError, match="registered: counter"):
        app.new_page("nope")


def test_render_adds_the_client_script_without_making_a_page(app: Application) -> None:
    assert app.render("counter", {"count": 3}) == (
        '<script src="/livetemplate-client.js" defer></script><span id="count">3</span>'
    )
    assert app.page_count == 0


def test_new_page_with_data_or_model(app: Application) -> None:
    data = {"count": 1}
    assert app.new_page("counter", data).data is data  # kept by reference: page.update() sees edits
    page = app.new_page("counter", Counter())
    assert page.actions == ["increment"] and page.html() == '<span id="count">0</span>'


@pytest.mark.parametrize(
    ("where", "make"),
    [
        ("query", lambda t: request(query=f"cache_token={t}")),
        ("header", lambda t: request(headers={"X-LiveTemplate-Token": t})),
        ("cookie", lambda t: request(headers={"cookie": f"livetemplate_token_8a5edab28263={t}"})),
    ],
)
def test_get_page_finds_the_page_by_token(app: Application, where: str, make: Any) -> None:
    page = app.new_page("counter", Counter())
    app.new_page("counter", Counter())
    assert app.get_page(make(page.token)) is page


def test_the_token_cookie_is_named_after_the_path(app: Application) -> None:
    assert app.cookie_for("/") == "livetemplate_token_8a5edab28263"  # sha256("/")[:12]
    assert len({app.cookie_for(p) for p in ("/", "/shared", "/signup", "/shared/")}) == 4
    page = app.new_page("counter", Counter())
    elsewhere = Request({"type": "http", "method": "GET", "path": "/other", "query_string": b"",
                         "headers": [(b"cookie", f"livetemplate_token_8a5edab28263={page.token}"
                                      .encode())]})
    with pytest.raises(TokenMissing, match="/other"):  # the cookie of "/" is not the one of /other
        app.get_page(elsewhere)


def test_a_page_of_another_template_is_not_returned(app: Application) -> None:
    app.add_template("signup", "<form>{{ name }}</form>")
    page = app.new_page("counter", Counter())
    assert app.get_page(request(query=f"cache_token={page.token}"), "counter") is page
    with pytest.raises(PageNotFound, match="'counter' page, not a 'signup' one"):
        app.get_page(request(query=f"cache_token={page.token}"), template="signup")
    with pytest.raises(PageNotFound):
        asyncio.run(app.load_page(page.token, "signup"))
    assert asyncio.run(app.load_page(page.token, "counter")) is page


def test_get_page_refusals(app: Application) -> None:
    with pytest.raises(TokenMissing, match="cache_token"):
        app.get_page(request())
    with pytest.raises(TokenInvalid):
        app.get_page(request(query="cache_token=forged.token"))
    other = Application(secret="other")
    other.add_template("counter", "{{ count }}")
    with pytest.raises(PageNotFound):
        Application(secret="other").page_for_token(other.new_page("counter").token)


def test_tokens_expire() -> None:
    clock = Clock()
    app = Application(secret="t", clock=clock, limits=Limits(token_max_age=60, page_ttl=3600))
    app.add_template("p", "{{ n }}")
    page = app.new_page("p", {"n": 1})
    token = page.token
    clock.now += 61
    with pytest.raises(TokenExpired):
        app.page_for_token(token)
    assert app.page_for_token(page.token) is page  # a fresh token works


def test_idle_pages_expire_but_connected_ones_stay() -> None:
    clock = Clock()
    app = Application(secret="t", clock=clock, limits=Limits(page_ttl=100))
    app.add_template("p", "{{ n }}")
    idle, busy = app.new_page("p", {"n": 1}), app.new_page("p", {"n": 2})
    busy.attach(Sink())
    token = idle.token
    clock.now += 101
    assert app.expire_pages() == [idle.id]
    assert app.page_count == 1
    with pytest.raises(PageNotFound, match="expired"):
        app.page_for_token(token)
    assert app.page_for_token(busy.token) is busy


def test_expiry_also_runs_lazily() -> None:
    clock = Clock()
    app = Application(secret="t", clock=clock, limits=Limits(page_ttl=100))
    app.add_template("p", "{{ n }}")
    app.new_page("p")
    clock.now += 200
    app.new_page("p")
    assert app.page_count == 1


def test_page_limit_refuses_clearly_and_frees_room_by_expiry() -> None:
    clock = Clock()
    app = Application(secret="t", clock=clock, limits=Limits(max_pages=2, page_ttl=100))
    app.add_template("p", "{{ n }}")
    app.new_page("p")
    app.new_page("p")
    with pytest.raises(PageLimitError, match="max_pages"):
        app.new_page("p")
    clock.now += 101
    app.new_page("p")  # the idle ones expired to make room
    assert app.page_count == 1


def test_a_page_only_in_the_store_is_rebuilt(app: Application) -> None:
    page = app.new_page("counter", {"count": 4})
    app.pages.clear()  # as another process would see it: a record, no live page
    again = app.page_for_token(page.token)
    assert again is not page and again.html() == '<span id="count">4</span>'


class Sink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))


def test_handle_action_returns_the_update_and_never_raises_for_bad_input(app: Application) -> None:
    page = app.new_page("counter", Counter())
    run = asyncio.run
    reply = run(app.handle_action(page, '{"type":"action","action":"increment"}'))
    assert reply == {"tree": {"0": "1"},
                     "meta": {"action": "increment", "success": True, "errors": {}}}
    assert run(app.handle_action(page, "{oops"))["code"] == "bad_json"
    assert run(app.handle_action(page, {"action": "nope"}))["code"] == "unknown_action"
    assert run(app.handle_action(page, "x" * 70_000))["code"] == "too_large"
    other = app.new_page("counter", Counter())
    wrong = {"action": "increment", "token": other.token}
    assert run(app.handle_action(page, wrong))["code"] == "token_other_page"
    assert page.html() == '<span id="count">1</span>' and other.html().endswith(">0</span>")


def test_a_failing_action_is_logged_and_reported(app: Application,
                                                caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        count = 0

        def boom(self) -> None:
            self.count = 5
            raise RuntimeError("kaput")

    page = app.new_page("counter", Broken())
    sink = Sink()
    page.attach(sink)
    reply = asyncio.run(app.handle_action(page, {"action": "boom"}))
    assert reply["code"] == "action_failed" and "kaput" not in reply["message"]
    assert "kaput" in caplog.text
    assert sink.messages[-1]["tree"] == {"0": "5"}  # the tree follows what the model became


def test_an_action_message_object_is_checked_as_a_raw_one(app: Application) -> None:
    page = app.new_page("counter", Counter())
    reply = asyncio.run(app.handle_action(page, ActionMessage("increment", {"t": "\ud800"})))
    assert reply["code"] == "bad_data" and "'t'" in reply["message"]
    assert page.model.count == 0
    assert "tree" in asyncio.run(app.handle_action(page, ActionMessage("increment")))
