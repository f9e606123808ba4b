"""What cannot be made live is a compile error naming file:line and the construct."""

from __future__ import annotations

import ast
from pathlib import Path

import jinja2
import pytest

import lt_engine
from lt_engine.compiler import compile_ir
from lt_engine.ir import ElseSlot, ExprSlot, ForSlot, IfSlot

env = lt_engine.Environment()


@pytest.mark.parametrize(
    ("source", "line", "message"),
    [
        ("a\n{% for x in xs %}{{ loop(x.children) }}{% endfor %}", 2,
         "loop(…) calls a loop that is not marked recursive"),
        ("{% include name %}", 1, "constant strings"),
        ("{% extends base %}", 1, "the page's static structure is the parent's"),
        ("{% for x in xs %}{% extends 'b' %}{% endfor %}", 1,
         "must be a top-level tag or directly inside a top-level {% if %}"),
        ("{% block a %}{{ self.b() }}{% endblock %}", 1, "the template has no block named 'b'"),
        ("{% block a %}{{ self.a() }}{% endblock %}", 1, "would never end"),
        ("{% block a %}{{ super() ~ 'x' }}{% endblock %}", 1, "super() is only supported alone"),
        ("\n\n{{ x|nosuchfilter }}", 3, "no filter named 'nosuchfilter'"),
        ("{% for x in xs if x is nosuchtest %}{% endfor %}", 1, "no test named 'nosuchtest'"),
        ("{% autoescape flag %}{% endautoescape %}", 1, "needs a constant true or false"),
        ("{% include 'missing.html' %}", 1, "the environment has no loader"),
    ],
)
def test_unsupported_constructs(source: str, line: int, message: str) -> None:
    with pytest.raises(lt_engine.CompileError) as info:
        env.from_string(source, name="page.html")
    err = info.value
    assert err.lineno == line
    assert message in str(err)
    assert str(err).startswith(f"page.html:{line}: ")
    assert isinstance(err, jinja2.TemplateSyntaxError)


def test_errors_name_the_file_that_holds_the_construct(tmp_path: Path) -> None:
    (tmp_path / "page.html").write_text("<p>\n{% include 'row.html' %}</p>")
    (tmp_path / "row.html").write_text("ok\n\n{{ x|nosuchfilter }}")
    local = lt_engine.Environment(loader=jinja2.FileSystemLoader(tmp_path))
    with pytest.raises(lt_engine.CompileError) as info:
        local.get_template("page.html")
    assert str(info.value).startswith(f"{tmp_path / 'row.html'}:3: no filter named")


def test_missing_include_names_the_template() -> None:
    local = lt_engine.Environment(loader=jinja2.DictLoader({"main": "{% include 'gone' %}"}))
    with pytest.raises(lt_engine.CompileError, match="included template 'gone' not found"):
        local.get_template("main")
    ignored = jinja2.DictLoader({"main": "a{% include 'gone' ignore missing %}b"})
    assert lt_engine.Environment(loader=ignored).get_template("main").render({}) == "ab"


def test_syntax_errors_are_jinja2s() -> None:
    with pytest.raises(jinja2.TemplateSyntaxError, match="(?i)unexpected end of template"):
        env.from_string("{% if a %}")


def ir(source: str, **loader_templates: str):
    local = lt_engine.Environment(loader=jinja2.DictLoader(loader_templates))
    return compile_ir(local.jinja, source)


def test_slots_of_each_kind() -> None:
    root = ir("<p>{{ a }}</p>{% if b %}x{% endif %}{% for c in d %}{{ c }}{% else %}e{% endfor %}")
    kinds = [type(s) for s in root.root.slots]
    assert kinds == [ExprSlot, IfSlot, IfSlot]
    assert root.root.statics == ["<p>", "</p>", "", ""]
    # a range at the top level is wrapped, with its else, in a node that is always there
    wrapper = root.root.slots[2]
    assert wrapper.tests == ["True"] and len(wrapper.branches) == 1
    assert [type(s) for s in wrapper.branches[0].slots] == [ForSlot, ElseSlot]
    assert wrapper.branches[0].statics == ["", "", ""]


def test_top_level_range_is_wrapped_on_the_wire() -> None:
    m = env.from_string("<ul><li>{{ xs|length }}</li>{% for x in xs %}<li id='{{ x }}'>{{ x }}"
                        "</li>{% endfor %}</ul>").mount({"xs": ["a"]})
    rng = {"s": ["<li id='", "'>", "</li>"], "d": [{"0": "a", "1": "a"}], "m": {"idKey": "0"}}
    assert m.tree == {"s": ["<ul><li>", "</li>", "</ul>"], "0": "1", "1": {"s": ["", ""], "0": rng}}
    assert m.update({"xs": ["a", "b"]}) == {
        "0": "2", "1": {"0": [["a", [{"0": "b", "1": "b"}]]]}
    }


def test_text_like_a_template_expression_is_a_static_node() -> None:
    m = env.from_string("<code>{{ s }}</code>{% for x in xs %}<i id='{{ x }}'>.</i>{% endfor %}"
                        ).mount({"s": "{{ a }}", "xs": ["{{b}}"]})
    tree = m.tree
    assert tree["0"] == {"s": ["{{ a }}"]}
    assert tree["1"]["0"]["d"] == [{"0": {"s": ["{{b}}"]}, "_k": "{{b}}"}]
    assert m.update({"s": "{{ c }}", "xs": ["{{b}}", "{{d}}"]}) == {
        "0": {"s": ["{{ c }}"]}, "1": {"0": [["a", [{"0": {"s": ["{{d}}"]}, "_k": "{{d}}"}]]]}
    }
    assert m.update({"s": "{{ c", "xs": ["{{b}}", "{{d}}"]}) == {"0": "{{ c"}
    assert lt_engine.to_html(lt_engine.apply_update(tree, {"0": "x"})).startswith("<code>x</code>")


def test_constant_output_is_folded_into_statics_like_jinja2() -> None:
    root = ir("{{ 'a' ~ '<b>'|e }}{{ 1 + 2 }}").root
    assert root.slots == [] and root.statics == ["a&amp;lt;b&amp;gt;3"]


def test_with_and_include_are_inlined() -> None:
    root = ir("{% with x = a %}[{{ x }}]{% endwith %}{% include 'p' %}", p="<{{ a }}>").root
    assert root.statics == ["[", "]<", ">"]


def test_extends_resolves_blocks_and_super() -> None:
    base = "<t>{% block t %}base{% endblock %}</t>"
    root = ir("{% extends 'base' %}{% block t %}{{ super() }}+{{ x }}{% endblock %}", base=base)
    assert root.root.statics == ["<t>base+", "</t>"]


def test_loop_body_reads_are_leaves_of_the_loop_level() -> None:
    result = ir("{% for t in todos %}{{ t.title }}{{ loop.index }}{{ title }}{% endfor %}")
    loop = result.root.slots[0].branches[0].slots[0]
    assert isinstance(loop, ForSlot)
    assert [(leaf.steps, leaf.loop_attr) for leaf in loop.leaves] == [
        ((( 0, "title"),), None), ((), "index")
    ]
    assert result.top_names == ["todos", "title"]


def _module_imports(path: Path) -> set[str]:
    """The lt_engine modules ``path`` imports when it is imported (not for type checking)."""
    found: set[str] = set()
    for stmt in ast.parse(path.read_text()).body:  # top level only: run at import time
        if isinstance(stmt, ast.ImportFrom) and stmt.level == 1:
            if stmt.module:
                found.add(stmt.module.split(".")[0])
            else:
                found.update(alias.name for alias in stmt.names)
    return found


def test_engine_modules_import_one_way() -> None:
    package = Path(lt_engine.__file__).parent
    graph = {p.stem: _module_imports(p) for p in package.glob("*.py")}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join((*path, module))
        if module in done or module not in graph:
            return
        for imported in graph[module]:
            visit(imported, (*path, module))
        done.add(module)

    for module in graph:
        visit(module, ())
    assert "compiler" not in graph["environment"] and "codegen" not in graph["precompiled"]
