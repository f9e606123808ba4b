"""The ``livetemplate`` command, run as a user runs it: a subprocess in a temporary project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "livetemplate"
TEMPLATES = {
    "templates/base.html": "<main>{% block body %}{% endblock %}</main>",
    "templates/page.html": '{% extends "base.html" %}{% block body %}'
                           '{% include "partials/nav.html" %}<p>{{ n }}</p>{% endblock %}',
    "templates/partials/nav.html": "<nav>{{ title }}</nav>",
}
LOAD = """
import sys
from livetemplate import Application
app = Application(secret="cli-tests", compiled="build")
print(app.template_names)
print(app.template("page").render(n=1, title="T"))
print("compiler imported:", "lt_engine.compiler" in sys.modules)
"""
ENV_MODULE = """
import lt_engine

def make_env():
    env = lt_engine.Environment(trim_blocks=True)
    env.filters["money"] = lambda cents: f"{cents / 100:.2f}"
    return env
"""


def livetemplate(*args: str, cwd: Path, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "livetemplate", *args], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=60)


def python(code: str, cwd: Path, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, text=True, capture_output=True,
                          env={**os.environ, **(env or {})}, timeout=60)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name, text in TEMPLATES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("command", [[], ["compile"], ["check"], ["run"]])
def test_help_on_every_command(command: list[str], tmp_path: Path) -> None:
    result = livetemplate(*command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: livetemplate {' '.join(command)}".rstrip())


def test_console_script_is_the_same_as_python_m(tmp_path: Path) -> None:
    assert SCRIPT.exists(), "run scripts/setup (pip install -e .) to install the console script"
    script = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, check=True)
    assert script.stdout == livetemplate("--help", cwd=tmp_path).stdout


def test_no_command_is_a_usage_error(tmp_path: Path) -> None:
    result = livetemplate(cwd=tmp_path)
    assert result.returncode == 2 and "required: COMMAND" in result.stderr


def test_compile_then_load_without_sources_changing(project: Path) -> None:
    result = livetemplate("compile", "templates", "-o", "build", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("compiled 3 template(s) from templates into build: 4 file(s)"
                             " written, 0 removed\n")
    loaded = python(LOAD, project)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines() == ["['base', 'page', 'partials/nav']",
                                          "<main><nav>T</nav><p>1</p></main>",
                                          "compiler imported: False"]


def test_compile_is_deterministic(project: Path) -> None:
    for out in ("one", "two"):
        assert livetemplate("compile", "templates", "-o", out, cwd=project).returncode == 0
    files = sorted(p.name for p in (project / "one").glob("*.py"))
    assert len(files) == 4
    for name in files:
        assert (project / "one" / name).read_bytes() == (project / "two" / name).read_bytes()
    again = livetemplate("compile", "templates", "-o", "one", "-q", cwd=project)
    assert again.returncode == 0 and again.stdout == ""


def test_stale_sources_are_an_error_naming_the_template_or_recompiled_in_dev_mode(
        project: Path) -> None:
    assert livetemplate("compile", "templates", "-o", "build", cwd=project).returncode == 0
    (project / "templates/partials/nav.html").write_text("<nav>{{ title }}!</nav>")
    stale = python(LOAD, project, env={"LIVETEMPLATE_DEV": ""})
    assert stale.returncode == 1
    last = stale.stderr.strip().splitlines()[-1]
    assert last.startswith("lt_engine.precompiled.StaleTemplateError: stale precompiled"
                           " templates in build: 'page.html' (changed: partials/nav.html);"
                           " 'partials/nav.html' (changed: partials/nav.html)")
    dev = python(LOAD, project, env={"LIVETEMPLATE_DEV": "1"})
    assert dev.returncode == 0, dev.stderr
    assert dev.stdout.splitlines()[1:] == ["<main><nav>T!</nav><p>1</p></main>",
                                           "compiler imported: True"]
    assert "page.html is stale (partials/nav.html changed)" in dev.stderr


def test_compile_error_exits_1_and_leaves_the_output(project: Path) -> None:
    assert livetemplate("compile", "templates", "-o", "build", cwd=project).returncode == 0
    before = {p.name: p.read_bytes() for p in (project / "build").glob("*.py")}
    (project / "templates/partials/nav.html").write_text("<nav>\n{{ title|nosuch }}</nav>")
    result = livetemplate("compile", "templates", "-o", "build", cwd=project)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "templates/partials/nav.html:2: no filter named 'nosuch'",
        "livetemplate compile: 1 problem(s); build left as it was",
    ]
    assert {p.name: p.read_bytes() for p in (project / "build").glob("*.py")} == before


def test_check_prints_path_line_message_and_exits_1(project: Path) -> None:
    ok = livetemplate("check", "templates", cwd=project)
    assert (ok.returncode, ok.stdout) == (0, "")
    assert ok.stderr == "3 template(s) checked, 0 problem(s)\n"
    (project / "templates/layout.html").write_text("<ul>\n{% extends layout %}")
    (project / "templates/syntax.html").write_text("a\nb\n{% if %}")
    bad = livetemplate("check", "templates", "-q", cwd=project)
    assert bad.returncode == 1 and bad.stderr == ""
    assert bad.stdout.splitlines() == [
        "templates/layout.html:2: {% extends %} needs a constant template name (or an if/else"
        " over constant names): the page's static structure is the parent's, fixed at compile"
        " time",
        "templates/syntax.html:3: Expected an expression, got 'end of statement block'",
    ]


def test_check_accepts_recursion_self_and_dynamic_inheritance(project: Path) -> None:
    (project / "templates/wide.html").write_text("<main>{% block body %}{% endblock %}</main>")
    (project / "templates/tree.html").write_text(
        "{% if wide %}{% extends 'wide.html' %}{% endif %}{% block body %}"
        "{% macro node(c) %}{{ c.name }}{% for k in c.kids %}{{ node(k) }}{% endfor %}"
        "{% endmacro %}{% for c in comments recursive %}{{ node(c) }}{{ loop(c.kids) }}"
        "{% endfor %}{% if c %}{% set x = 1 %}{% endif %}{{ x }}{{ self.title() }}"
        "{{ dict(self=1).self }}{% if never %}{{ x|nosuch }}{% endif %}{% endblock %}"
        "{% block title %}t{% endblock %}")
    ok = livetemplate("check", "templates", cwd=project)
    assert (ok.returncode, ok.stdout) == (0, ""), ok.stdout


def test_check_of_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    result = livetemplate("check", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "livetemplate check: error: template directory nope does not exist\n"


def test_env_option_brings_filters_and_options(project: Path) -> None:
    (project / "envmod.py").write_text(ENV_MODULE)
    (project / "templates/price.html").write_text("{% if 1 %}\n{% endif %}{{ cents|money }}")
    plain = livetemplate("check", "templates", cwd=project)
    assert plain.returncode == 1
    assert plain.stdout == "templates/price.html:2: no filter named 'money'\n"
    assert livetemplate("check", "templates", "--env", "envmod:make_env",
                        cwd=project).returncode == 0
    assert livetemplate("compile", "templates", "-o", "build", "--env", "envmod:make_env",
                        cwd=project).returncode == 0
    code = ("from envmod import make_env\nenv = make_env()\nenv.load_compiled('build')\n"
            "print(repr(env.get_template('price.html').render(cents=1234)))")
    loaded = python(code, project)
    assert loaded.stdout == "'12.34'\n", loaded.stderr  # trim_blocks ate the newline
    refused = python(LOAD, project)  # a default environment: other options
    assert "trim_blocks=True there, False here" in refused.stderr


def test_a_bad_env_is_a_usage_error(project: Path) -> None:
    (project / "envmod.py").write_text("x = 1\n")
    missing = livetemplate("check", "templates", "--env", "nomodule:env", cwd=project)
    assert missing.returncode == 2 and "no module 'nomodule'" in missing.stderr
    wrong = livetemplate("check", "templates", "--env", "envmod:x", cwd=project)
    assert wrong.returncode == 2 and "expected an lt_engine.Environment" in wrong.stderr
