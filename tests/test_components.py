"""Components (lt_engine.components, _components.pxi, livetemplate.components): each shown with
``{{ component(obj) }}``, mounted once, updated by its own change tracking; an action addressed
to one re-evaluates only it."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from typing import Any

import jinja2
import pytest

import lt_engine
from livetemplate import ActionContext, Application, ClientError, Component, ValidationError
from livetemplate.testing import mount
from lt_engine import apply_update, to_html
from lt_engine import components as engine
from tests.fake_shared_store import FakeSharedStore

ROW = ('<li id="row-{{ item.id }}" lvt-target="{{ myself }}">{% if editing %}'
       '<input name="title" value="{{ item.title }}">{% else %}{{ item.title }}{% endif %}'
       ' <i>{{ saves }}</i></li>')
PAGE = '<h1>{{ title }}</h1><ul>{% for r in rows %}{{ component(r) }}{% endfor %}</ul>'
TEMPLATES = {"row": ROW, "page": PAGE}


class Row(Component):
    template = "row"

    def __init__(self, i: int) -> None:
        self.item = {"id": i, "title": f"t{i}"}
        self.editing = False
        self.saves = 0
        self.renders = 0

    def edit(self) -> None:
        self.editing = True

    def save(self, ctx: ActionContext) -> None:
        title = ctx.get_str("title").strip()
        if not title:
            raise ValidationError(title="Give a title.")
        self.item["title"] = title
        self.editing = False
        self.saves += 1


# -- the engine -------------------------------------------------------------------------------

loader = jinja2.DictLoader(TEMPLATES)
env = lt_engine.Environment(loader)
oracle = jinja2.Environment(loader=loader, autoescape=True)
oracle.globals["component"] = engine.render_component


def mounted(n: int = 3) -> tuple[Any, dict[str, Any], list[Row], dict[str, Any]]:
    rows = [Row(i) for i in range(n)]
    data = {"title": "T", "rows": rows}
    m = env.get_template("page").mount(data)
    return m, data, rows, copy.deepcopy(m.tree)


def test_first_render_is_jinja2s_and_the_tree_holds_each_components_node() -> None:
    m, data, rows, tree = mounted()
    expected = oracle.get_template("page").render(data)
    assert m.html() == expected == to_html(tree)
    assert f'lvt-target="{engine.cid_of(rows[1])}"' in expected
    item = tree["1"]["0"]["d"][1]["0"]
    assert item["s"][0] == '<li id="row-' and item["0"] == "1"
    assert env.get_template("page").render(data) == expected  # a plain render too


def test_a_component_update_is_its_own_addressed_to_its_place() -> None:
    m, data, rows, tree = mounted()
    rows[1].editing = True
    up = engine.update_in(m, rows[1])
    assert up == {"1": {"0": [["u", "1", {"0": {"2": {"s": ['<input name="title" value="', '">'],
                                                      "0": "t1"}}}]]}}
    apply_update(tree, up)
    assert to_html(tree) == m.html() == oracle.get_template("page").render(data)
    assert engine.update_in(m, rows[1]) == {}  # nothing more changed


def test_a_page_update_reaches_its_components_through_their_own_tracking() -> None:
    m, data, rows, tree = mounted()
    rows[2].saves = 5
    data["title"] = "U"
    up = m.update(data)
    assert up == {"0": "U", "1": {"0": [["u", "2", {"0": {"3": "5"}}]]}}
    data["rows"] = rows[:1] + [Row(9)]
    up = m.update(data)
    apply_update(tree, {"0": "U", "1": {"0": [["u", "2", {"0": {"3": "5"}}]]}})
    apply_update(tree, up)
    assert to_html(tree) == m.html() == oracle.get_template("page").render(data)


def test_a_component_the_page_does_not_show_is_refused() -> None:
    m, _, _, _ = mounted()
    other = Row(7)
    with pytest.raises(LookupError):
        engine.update_in(m, other)
    m2, _, rows2, _ = mounted()
    assert not engine.shown_in(m, rows2[0]) and engine.shown_in(m2, rows2[0])


def test_bad_components_are_clear_errors() -> None:
    class NoTemplate:
        pass

    tpl = env.from_string("{{ component(x) }}")
    with pytest.raises(TypeError, match="'template'"):
        tpl.mount({"x": NoTemplate()})
    with pytest.raises(TypeError, match="object with attributes"):
        engine.component_data(5)
    with pytest.raises(TypeError, match="lt_engine Environment"):
        engine.mount_of(jinja2.Environment(), Row(1))


def test_a_component_pickles_without_its_mount() -> None:
    _, _, rows, _ = mounted()
    back = pickle.loads(pickle.dumps(rows[0]))
    assert engine.MOUNT_ATTR not in vars(back) and back.item == rows[0].item
    assert engine.cid_of(back) == engine.cid_of(rows[0])


# -- pages ------------------------------------------------------------------------------------

class Table:
    def __init__(self, n: int) -> None:
        self.title = "Rows"
        self.rows = [Row(i) for i in range(n)]

    def add(self) -> None:
        self.rows.append(Row(len(self.rows)))


class Sink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, text: str) -> None:
        self.messages.append(json.loads(text))


def page_for(n: int = 100, **options: Any) -> Any:
    app = Application(secret="test-components", **options)
    for name, src in TEMPLATES.items():
        app.add_template(name, src)
    return app, app.new_page("page", Table(n))


def send(app: Application, page: Any, message: dict[str, Any], origin: Any = None) -> dict[str, Any]:
    return asyncio.run(app.handle_action(page, json.dumps(message), origin))


@pytest.mark.parametrize("track_data", [True, False])
def test_an_action_on_one_of_100_components_evaluates_only_it(track_data: bool) -> None:
    app, page = page_for(100, track_data=track_data)
    row = page.model.rows[42]
    cid = engine.cid_of(row)
    other, sink = Sink(), Sink()
    page.attach(other)
    page.attach(sink)
    tree = copy.deepcopy(other.messages[0]["tree"])
    read: list[int] = []  # which components' data is read
    original = engine.component_data
    # changed behind the page's back: a page update would send it, a component action must not
    page.model.rows[7].item["title"] = "unseen"
    page.model.title = "unseen"

    def spy(obj: Any) -> dict[str, Any]:
        read.append(obj.item["id"])
        return original(obj)

    engine.component_data = spy  # type: ignore[assignment]
    try:
        reply = send(app, page, {"type": "action", "action": "edit", "target": cid}, sink)
    finally:
        engine.component_data = original  # type: ignore[assignment]
    assert read == [42]
    assert reply["meta"] == {"action": "edit", "success": True, "errors": {}, "target": cid}
    assert reply["tree"] == {"1": {"0": [["u", "42", {"0": {"2": {
        "s": ['<input name="title" value="', '">'], "0": "t42"}}}]]}}
    assert other.messages[-1] == {"tree": reply["tree"], "meta": {}}  # every tab sees it
    apply_update(tree, reply["tree"])
    assert "unseen" not in to_html(tree)
    assert "unseen" in page.update()["0"]  # the page's next update sends the rest


def test_component_actions_take_data_errors_and_events() -> None:
    app, page = page_for(3)
    row = page.model.rows[1]
    cid = engine.cid_of(row)
    send(app, page, {"type": "action", "action": "edit", "target": cid})
    reply = send(app, page, {"type": "action", "action": "save", "target": cid,
                             "data": {"title": " "}})
    assert reply["meta"]["errors"] == {"title": "Give a title."} and page.errors == {}
    reply = send(app, page, {"type": "action", "action": "save", "target": cid,
                             "data": {"title": "new <b>"}})
    assert reply["meta"]["success"] and row.saves == 1
    assert 'new &lt;b&gt; <i>1</i>' in page.html()
    # the page's own actions are unchanged
    reply = send(app, page, {"type": "action", "action": "add"})
    assert "row-3" in page.html() and reply["meta"]["success"]


@pytest.mark.parametrize(("message", "code"), [
    ({"type": "action", "action": "edit", "target": "nope"}, "unknown_component"),
    ({"type": "action", "action": "edit", "target": 5}, "bad_message"),
    ({"type": "action", "action": "edit", "target": ""}, "bad_message"),
    ({"type": "action", "action": "edit", "target": "x" * 65}, "bad_message"),
])
def test_bad_targets_are_clear_errors_and_change_nothing(message: dict[str, Any], code: str) -> None:
    app, page = page_for(3)
    before = page.html()
    reply = send(app, page, message)
    assert reply["type"] == "error" and reply["code"] == code
    assert page.html() == before


def test_unknown_action_of_a_component_names_its_actions() -> None:
    app, page = page_for(2)
    cid = engine.cid_of(page.model.rows[0])
    reply = send(app, page, {"type": "action", "action": "fly", "target": cid})
    assert reply["code"] == "unknown_action" and "edit, save" in reply["message"]


def test_a_component_of_another_page_is_refused() -> None:
    app, page = page_for(2)
    other = app.new_page("page", Table(2))
    cid = engine.cid_of(other.model.rows[0])
    reply = send(app, page, {"type": "action", "action": "edit", "target": cid})
    assert reply["code"] == "unknown_component"
    assert not other.model.rows[0].editing


def test_component_actions_on_a_shared_store_are_refused_clearly() -> None:
    app = Application(secret="test-components", store=FakeSharedStore())
    for name, src in TEMPLATES.items():
        app.add_template(name, src)
    page = app.new_page("page", Table(2))
    cid = engine.cid_of(page.model.rows[0])
    with pytest.raises(ClientError, match="in-process page store"):
        asyncio.run(page.run_action("edit", {}, None, cid))


def test_a_users_own_component_global_is_called_as_any_other() -> None:
    own = lt_engine.Environment()
    own.globals["component"] = lambda x: f"<{x}>"
    m = own.from_string("{{ component(x) }}").mount({"x": "a"})
    assert m.html() == "&lt;a&gt;" and m.update({"x": "b"}) == {"0": "&lt;b&gt;"}


def test_a_live_view_sends_to_a_component() -> None:
    app, page = page_for(3)
    with mount(app, page) as view:
        row = page.model.rows[2]
        reply = view.send_to(row, "edit")
        assert reply["meta"]["target"] == engine.cid_of(row)
        assert 'value="t2"' in view.html
        view.send_to(row, "save", title="two")
        assert "two <i>1</i>" in view.html and view.html == page.html()


class Leaving(Row):
    def leave(self, ctx: ActionContext) -> None:
        ctx.flash("info", "Bye.")
        ctx.navigate("/elsewhere")


def test_a_component_action_can_navigate_with_a_flash() -> None:
    app = Application(secret="test-components")
    for name, src in TEMPLATES.items():
        app.add_template(name, src)
    table = Table(0)
    table.rows = [Leaving(1)]
    page = app.new_page("page", table)
    reply = send(app, page, {"type": "action", "action": "leave",
                             "target": engine.cid_of(table.rows[0])})
    assert reply["meta"]["navigate"] == "/elsewhere" and reply["meta"]["flash"]


def test_a_replaced_component_template_shows_when_the_page_is_mounted_again() -> None:
    app, page = page_for(2)
    view = Sink()
    page.attach(view)
    # what dev mode's reload does to the application's template of that name
    app._templates["row"] = app.env.from_string(ROW.replace("<i>", "<em>").replace("</i>", "</em>"),
                                                name="row")
    page.remount(app.template("page"))
    assert "<em>" in page.html() and "<i>" not in page.html()
    assert to_html(view.messages[-1]["tree"]) == page.html()


@pytest.mark.parametrize("track_data", [True, False])
def test_a_component_found_again_after_the_page_moved_it(track_data: bool) -> None:
    app, page = page_for(10, track_data=track_data)
    view = Sink()
    page.attach(view)
    tree = copy.deepcopy(view.messages[0]["tree"])
    row = page.model.rows[5]
    cid = engine.cid_of(row)
    for step in ("first", "moved", "moved again", "gone"):
        if step == "moved":
            del page.model.rows[:3]  # the page's update shifts it to position 2
            page.model.rows.insert(0, Row(99))
        elif step == "moved again":
            page.model.rows.reverse()
        elif step == "gone":
            page.model.rows.remove(row)
        if step != "first":
            page.update()
        reply = send(app, page, {"type": "action", "action": "save", "target": cid,
                                 "data": {"title": step}})
        if step == "gone":
            assert reply["code"] == "unknown_component"
            break
        assert reply["meta"]["success"] and reply["tree"], step
        assert f"{step} <i>" in page.html()
    for message in view.messages[1:]:
        apply_update(tree, message["tree"])
    assert to_html(tree) == page.html()
