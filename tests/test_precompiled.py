"""lt_engine.precompiled: compiling a template directory, loading it back, stale sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

import lt_engine
import lt_engine.runtime
from lt_engine.precompiled import (
    MANIFEST,
    PrecompiledError,
    StaleTemplateError,
    check_dir,
    compile_dir,
    find_templates,
    module_name,
)
from lt_engine.runtime import FORMAT_VERSION

SOURCES = {
    "base.html": "<html><title>{% block title %}Site{% endblock %}</title>"
                 "<body>{% block body %}{% endblock %}</body></html>",
    "page.html": '{% extends "base.html" %}{% import "macros.html" as m %}'
                 "{% block title %}{{ title }}{% endblock %}"
                 '{% block body %}{% include "partials/nav.html" %}'
                 "<ul>{% for t in todos %}{{ m.item(t) }}{% endfor %}</ul>{% endblock %}",
    "macros.html": "{% macro item(t) %}<li data-key='{{ t.id }}'>{{ t.title }}</li>{% endmacro %}",
    "partials/nav.html": "<nav>{{ title|upper }}</nav>",
    "plain.html": "<p>{{ n }}</p>",
}
DATA = {"title": "Todos", "todos": [{"id": 1, "title": "a<b"}, {"id": 2, "title": "c"}]}


def make_project(root: Path, sources: dict[str, str] = SOURCES) -> tuple[Path, Path]:
    src = root / "templates"
    for name, text in sources.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    return src, root / "build"


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    src, out = make_project(tmp_path)
    result = compile_dir(lt_engine.Environment(), src, out)
    assert not result.problems
    return src, out


def source_env(src: Path) -> lt_engine.Environment:
    return lt_engine.Environment(loader=jinja2.FileSystemLoader(src))


def test_compiled_templates_render_as_compiled_from_source(project: tuple[Path, Path]) -> None:
    src, out = project
    env = lt_engine.Environment(compiled=out)
    for name in SOURCES:
        assert env.get_template(name).render(DATA) == source_env(src).get_template(
            name).render(DATA)
    data = json.loads(json.dumps(DATA))
    compiled = env.get_template("page.html").mount(data)
    from_source = source_env(src).get_template("page.html").mount(data)
    assert compiled.tree == from_source.tree
    data["todos"][1]["title"] = "d"
    update = compiled.update(data)
    assert update and update == from_source.update(data)


def test_output_layout_and_recorded_hashes(project: tuple[Path, Path]) -> None:
    src, out = project
    assert sorted(p.name for p in out.glob("*.py")) == sorted(
        [MANIFEST] + [module_name(n) + ".py" for n in SOURCES])
    manifest = (out / MANIFEST).read_text()
    assert "SOURCE_DIR = '../templates'" in manifest
    page = lt_engine.Environment(compiled=out).get_template("page.html")
    assert sorted(page.dependencies) == ["base.html", "macros.html", "page.html",
                                         "partials/nav.html"]
    assert page.dependencies["base.html"] == lt_engine.runtime.source_hash(
        SOURCES["base.html"])
    assert "DEPENDENCIES = {'base.html': " in page.module_source


def test_output_is_deterministic_and_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    src, _ = make_project(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    compile_dir(lt_engine.Environment(), src, one)
    compile_dir(lt_engine.Environment(), src, two)
    for path in one.glob("*.py"):
        assert path.read_bytes() == (two / path.name).read_bytes(), path.name
    again = compile_dir(lt_engine.Environment(), src, one)
    assert again.written == [] and again.removed == []
    assert again.templates == sorted(SOURCES)


def test_a_changed_dependency_makes_its_templates_stale(project: tuple[Path, Path]) -> None:
    src, out = project
    (src / "partials/nav.html").write_text("<nav>{{ title }}!</nav>")
    with pytest.raises(StaleTemplateError) as info:
        lt_engine.Environment(compiled=out)
    assert info.value.templates == ["page.html", "partials/nav.html"]
    message = str(info.value)
    assert "'page.html' (changed: partials/nav.html)" in message
    assert "livetemplate compile" in message and "LIVETEMPLATE_DEV=1" in message
    # the command to run names the source folder as typed, not as the manifest stores it
    assert f"livetemplate compile {src} -o {out}" in message and ".." not in message


def test_a_deleted_dependency_makes_its_templates_stale(project: tuple[Path, Path]) -> None:
    src, out = project
    (src / "macros.html").unlink()
    with pytest.raises(StaleTemplateError, match=r"macros.html \(deleted\)"):
        lt_engine.Environment(compiled=out)


def test_recompile_on_stale_compiles_on_first_use(project: tuple[Path, Path]) -> None:
    src, out = project
    (src / "plain.html").write_text("<p>{{ n|twice }}</p>")
    env = lt_engine.Environment(compiled=out, on_stale="recompile")
    env.filters["twice"] = lambda v: v * 2  # registered after loading: known at first use
    template = env.get_template("plain.html")
    assert template.render(n=2) == "<p>4</p>"
    assert "twice" in template.module_source
    assert env.get_template("page.html").render(DATA).startswith("<html><title>Todos")


def test_ignore_on_stale_loads_the_old_code(project: tuple[Path, Path]) -> None:
    src, out = project
    (src / "plain.html").write_text("<i>{{ n }}</i>")
    env = lt_engine.Environment(compiled=out, on_stale="ignore")
    assert env.get_template("plain.html").render(n=1) == "<p>1</p>"


def test_without_sources_nothing_is_checked(project: tuple[Path, Path], tmp_path: Path) -> None:
    src, out = project
    shipped = tmp_path / "deploy" / "build"
    shipped.parent.mkdir()
    out.rename(shipped)
    (src / "plain.html").write_text("changed")
    env = lt_engine.Environment(compiled=shipped)
    assert env.get_template("plain.html").render(n=1) == "<p>1</p>"
    assert env.get_template("plain.html").loader is None
    with pytest.raises(StaleTemplateError):  # given the sources explicitly, it checks them
        lt_engine.Environment().load_compiled(shipped, source_dir=src)


def test_a_recompiled_template_of_the_same_size_is_loaded(project: tuple[Path, Path]) -> None:
    # Same size, same second: timestamp-checked bytecode would still hold the old code.
    src, out = project
    lt_engine.Environment(compiled=out).get_template("plain.html")
    (src / "plain.html").write_text("<b>{{ n }}</b>")
    compile_dir(lt_engine.Environment(), src, out)
    assert lt_engine.Environment(compiled=out).get_template("plain.html").render(n=1) == \
        "<b>1</b>"


def test_reload_compiles_from_the_source(project: tuple[Path, Path]) -> None:
    src, out = project
    env = lt_engine.Environment(compiled=out)
    old = env.get_template("page.html")
    (src / "base.html").write_text("<main>{% block body %}{% endblock %}</main>")
    fresh = env.reload(old)
    assert fresh.render(DATA).startswith("<main><nav>TODOS</nav>")
    assert env.get_template("page.html") is fresh
    with pytest.raises(ValueError, match="made from a string"):
        env.reload(env.from_string("x"))


def test_other_jinja2_options_are_refused(project: tuple[Path, Path]) -> None:
    _, out = project
    with pytest.raises(PrecompiledError, match=r"trim_blocks=False there, True here"):
        lt_engine.Environment(compiled=out, trim_blocks=True)


def test_not_a_compiled_directory(tmp_path: Path) -> None:
    with pytest.raises(PrecompiledError, match="is not a compiled template directory"):
        lt_engine.Environment(compiled=tmp_path)


def test_another_format_version_is_refused(project: tuple[Path, Path]) -> None:
    _, out = project
    manifest = out / MANIFEST
    manifest.write_text(manifest.read_text().replace(f"FORMAT_VERSION = {FORMAT_VERSION}", "FORMAT_VERSION = 0"))
    with pytest.raises(PrecompiledError, match="format 0"):
        lt_engine.Environment(compiled=out)


def test_removed_templates_lose_their_module_and_other_files_stay(
        project: tuple[Path, Path]) -> None:
    src, out = project
    (out / "helper.py").write_text("# mine\n")
    (src / "plain.html").unlink()
    result = compile_dir(lt_engine.Environment(), src, out)
    assert result.removed == [module_name("plain.html") + ".py"]
    assert (out / "helper.py").exists()
    assert "plain.html" not in lt_engine.Environment(compiled=out)._compiled


def test_a_foreign_package_is_not_overwritten(tmp_path: Path) -> None:
    src, out = make_project(tmp_path)
    out.mkdir()
    (out / MANIFEST).write_text("import os\n")
    with pytest.raises(PrecompiledError, match="not written by `livetemplate compile`"):
        compile_dir(lt_engine.Environment(), src, out)


def test_nothing_is_written_when_a_template_fails(tmp_path: Path) -> None:
    src, out = make_project(tmp_path, {**SOURCES, "bad.html": "{% for x in y %}"})
    result = compile_dir(lt_engine.Environment(), src, out)
    assert [str(p) for p in result.problems] == [
        f"{src / 'bad.html'}:1: Unexpected end of template. Jinja was looking for the following"
        " tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'."]
    assert not out.exists()


def test_check_reports_each_problem_once_in_the_file_that_has_it(tmp_path: Path) -> None:
    src, _ = make_project(tmp_path, {
        "a.html": '{% include "broken.html" %}', "b.html": '{% include "broken.html" %}',
        "broken.html": "ok\n{{ x|nosuch }}", "c.html": "{% extends 'missing.html' %}",
    })
    names, problems = check_dir(lt_engine.Environment(), src)
    assert names == ["a.html", "b.html", "broken.html", "c.html"]
    assert [str(p) for p in problems] == [
        f"{src / 'broken.html'}:2: no filter named 'nosuch'",
        f"{src / 'c.html'}:1: template 'missing.html' not found",
    ]


def test_find_templates_patterns_and_hidden_files(tmp_path: Path) -> None:
    for name in ("a.html", "b.txt", "c.py", ".hidden.html", ".git/x.html", "d/e.jinja"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert find_templates(tmp_path) == ["a.html", "b.txt", "d/e.jinja"]
    assert find_templates(tmp_path, ["*.html"]) == ["a.html"]
    with pytest.raises(FileNotFoundError):
        find_templates(tmp_path / "nope")


def test_module_names_are_identifiers_and_unique() -> None:
    names = {module_name(n) for n in ("a-b.html", "a_b.html", "a/b.html", "ü.html", "1.html")}
    assert len(names) == 5 and all(n.isidentifier() for n in names)


LOAD_WITHOUT_PARSER = """
import json, sys
import jinja2.parser
built = []
init = jinja2.parser.Parser.__init__
def spy(self, *args, **kwargs):
    built.append(args)
    init(self, *args, **kwargs)
jinja2.parser.Parser.__init__ = spy
import lt_engine
env = lt_engine.Environment(compiled=sys.argv[1])
html = env.get_template("page.html").render(title="T", todos=[{"id": 1, "title": "x"}])
import jinja2.lexer
print(json.dumps({"html": html, "parsers": len(built), "lexers": len(jinja2.lexer._lexer_cache),
                  "modules": sorted(m for m in sys.modules if m.startswith("lt_engine"))}))
"""


def test_loading_compiled_templates_never_parses(project: tuple[Path, Path]) -> None:
    # In a fresh process: nothing else has imported the compiler or built a lexer there.
    _, out = project
    # cwd outside the checkout: from an unpacked sdist, ./lt_engine (no compiled core) would
    # shadow the installed package
    run = subprocess.run([sys.executable, "-c", LOAD_WITHOUT_PARSER, str(out)],
                         capture_output=True, text=True, check=True, cwd=out.parent)
    report = json.loads(run.stdout)
    assert report["html"].startswith("<html><title>T</title><body><nav>T</nav><ul><li")
    assert report["parsers"] == 0 and report["lexers"] == 0
    assert not {"lt_engine.compiler", "lt_engine.codegen", "lt_engine.expressions",
                "lt_engine.composition", "lt_engine.scope", "lt_engine.ir"} & set(
        report["modules"])
