"""lt_engine.Environment: options, loaders, caching."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jinja2
import pytest

import lt_engine


def test_autoescape_off_and_by_name() -> None:
    assert lt_engine.Environment(autoescape=False).from_string("{{ x }}").render(x="<") == "<"
    assert lt_engine.Environment().from_string("{{ x }}").render(x="<") == "&lt;"
    by_name = lt_engine.Environment(
        loader=jinja2.DictLoader({"a.html": "{{ x }}", "a.txt": "{{ x }}"}),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    assert by_name.get_template("a.html").render(x="<") == "&lt;"
    assert by_name.get_template("a.txt").render(x="<") == "<"


def test_async_is_refused() -> None:
    with pytest.raises(ValueError, match="enable_async"):
        lt_engine.Environment(enable_async=True)


def test_render_accepts_a_mapping_and_keywords() -> None:
    tpl = lt_engine.Environment().from_string("{{ a }}{{ b }}")
    assert tpl.render({"a": 1}, b=2) == "12"
    assert tpl.render(a=3) == "3"
    assert tpl.mount(a=1, b=2).html() == "12"


def test_filters_tests_and_globals_are_jinja2s() -> None:
    env = lt_engine.Environment()
    env.filters["twice"] = lambda v: v * 2
    env.tests["big"] = lambda v: v > 10
    env.globals["site"] = "LT"
    tpl = env.from_string("{{ n|twice }} {{ n is big }} {{ site }}")
    assert tpl.render(n=6) == "12 False LT"
    assert tpl.render(n=6, site="data wins") == "12 False data wins"


def test_get_template_caches_and_recompiles_changed_files(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("v1 {{ x }}")
    env = lt_engine.Environment(loader=jinja2.FileSystemLoader(tmp_path))
    first = env.get_template("page.html")
    assert env.get_template("page.html") is first
    page.write_text("v2 {{ x }}")
    later = time.time() + 5  # the loader compares modification times
    os.utime(page, (later, later))
    assert env.get_template("page.html").render(x=1) == "v2 1"


def test_get_template_without_loader() -> None:
    with pytest.raises(jinja2.TemplateNotFound):
        lt_engine.Environment().get_template("x.html")


