from __future__ import annotations

import asyncio

import pytest

from livetemplate import ActionContext, Application, ValidationError
from livetemplate.testing import mount

TEMPLATE = (
    '<span id="count">{{ count }}</span>{% if errors.by %}<em>{{ errors.by }}</em>{% endif %}'
)


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def add(self, ctx: ActionContext) -> None:
        by = ctx.get_int("by", 1)
        if by > 10:
            raise ValidationError(by="At most 10.")
        self.count += by


@pytest.fixture
def app() -> Application:
    app = Application(secret="t")
    app.add_template("counter", TEMPLATE)
    return app


def test_mount_send_and_read_html(app: Application) -> None:
    with mount(app, "counter", Counter()) as view:
        assert view.html == '<span id="count">0</span>'
        reply = view.send("add", by=2)
        assert reply["tree"] == {"0": "2"} and view.updates == [{"0": "2"}]
        assert view.html == '<span id="count">2</span>' == view.page.html()
        view.send("add", {"by": "11"})
        assert view.errors == {"by": "At most 10."} and view.html.endswith("<em>At most 10.</em>")
        assert view.send("nope")["code"] == "unknown_action"


def test_two_views_of_one_page_and_server_updates(app: Application) -> None:
    tab1 = mount(app, "counter", Counter())
    tab2 = mount(app, tab1.page)
    tab1.send("add")
    tab1.page.update(count=40)
    assert tab1.html == tab2.html == '<span id="count">40</span>'
    tab2.close()
    tab1.send("add")
    assert tab2.html.endswith(">40</span>") and tab1.html.endswith(">41</span>")
    tab1.close()


def test_async_tests_use_asend(app: Application) -> None:
    async def scenario() -> str:
        view = mount(app, "counter", Counter())
        with pytest.raises(RuntimeError, match="asend"):
            view.send("add")
        await view.asend("add", by=5)
        return view.html

    assert asyncio.run(scenario()) == '<span id="count">5</span>'


class Paged:
    def __init__(self) -> None:
        self.n = 1

    def handle_params(self, params: object, ctx: ActionContext) -> None:
        self.n = ctx.get_int("page", 1)


def test_a_view_patches_the_url_as_a_link_would() -> None:
    app = Application(secret="t")
    app.add_template("paged", "<b>{{ n }}</b>")
    with mount(app, "paged", Paged()) as view:
        assert view.patch("/?page=3")["tree"] == {"0": "3"} and view.html == "<b>3</b>"
        assert view.patch("//evil")["code"] == "bad_message" and view.html == "<b>3</b>"
