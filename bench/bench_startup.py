"""Application start-up with 100 templates: precompiled (``livetemplate compile``) vs from source.

``python -m bench.bench_startup`` prints the report (``--quick`` for a smoke run); ``pytest
bench/bench_startup.py --benchmark-only`` runs the same two start-ups under pytest-benchmark.

The project: 100 page templates, each extending a shared layout, including a nav partial and
importing a macro file, with a loop, branches and a dozen expressions (~40 lines), plus those 3
shared templates.  Two ways to get an ``Application`` ready to serve them, timed in the same run:

- **from source** — ``Application(); app.parse_files("templates/*.html")``: every page is lexed
  and parsed by jinja2 (with its layout, partial and macros) and compiled by lt_engine.
- **precompiled** — ``Application(compiled="build")`` on the output of ``livetemplate compile``:
  the manifest and 103 generated modules are imported (bytecode from ``__pycache__``) and built;
  the sources are still read and hashed to detect stale templates, as they are by default.

In-process figures leave Python's imports out (both sides import the same modules once); the
process figures time a fresh ``python`` from start to the app being ready, imports included.
Before timing, every page of both apps must render the same HTML.  The cyclic GC is run to
completion before each in-process run (it stays enabled during it).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lt_engine
from livetemplate import Application
from lt_engine.precompiled import compile_dir

PAGES = 100
TARGET_RATIO = 5.0  # precompiled start-up at least this many times faster
SECRET = "bench-startup"

LAYOUT = """<!doctype html>
<html><head><title>{% block title %}Site{% endblock %}</title></head>
<body>
{% include "layout/nav.html" %}
<main>{% block body %}{% endblock %}</main>
<footer>{% block footer %}&copy; {{ year }}{% endblock %}</footer>
</body></html>
"""
NAV = """<nav>{% for link in links %}<a href="{{ link.href }}"{% if link.href == here %}
 class="active"{% endif %}>{{ link.title }}</a>{% endfor %}</nav>
"""
MACROS = """{% macro badge(kind, text) %}<span class="badge badge-{{ kind }}">{{ text }}</span>{% endmacro %}
{% macro money(cents) %}{{ "%.2f"|format(cents / 100) }}{% endmacro %}
"""
PAGE = """{% extends "layout/base.html" %}
{% import "layout/macros.html" as m %}
{% block title %}Page {{ number }}: {{ title }}{% endblock %}
{% block body %}
<h1 id="title-{{ number }}">{{ title|title }}</h1>
<p class="lead">{{ intro }}</p>
{% if user %}
  <p>Signed in as <b>{{ user.name }}</b>{% if user.admin %} {{ m.badge("admin", "admin") }}{% endif %}</p>
{% else %}
  <p><a href="/login?next={{ here|urlencode }}">Sign in</a></p>
{% endif %}
<table class="items-{{ number }}">
  <tr><th>Name</th><th>Price</th><th>State</th></tr>
  {% for item in items %}
  <tr data-key="{{ item.id }}" class="{{ loop.cycle('odd', 'even') }}">
    <td>{{ item.name }}</td>
    <td>{{ m.money(item.cents) }}</td>
    <td>{% if item.stock > 10 %}in stock{% elif item.stock %}{{ item.stock }} left{% else %}sold out{% endif %}</td>
  </tr>
  {% else %}
  <tr><td colspan="3">Nothing here yet.</td></tr>
  {% endfor %}
</table>
{% set total = items|sum(attribute="cents") %}
<p>Total: {{ m.money(total) }} for {{ items|length }} item{{ "s" if items|length != 1 }}</p>
<ul class="tags">{% for tag in tags|sort %}<li>{{ tag|upper }}</li>{% endfor %}</ul>
<form lvt-submit="save_{{ number }}"><input name="q" value="{{ query|default('') }}"><button>Go</button></form>
{% endblock %}
"""


def make_project(root: Path, pages: int = PAGES) -> tuple[Path, Path]:
    """Write the templates under ``root/templates``; returns (templates, build) folders."""
    src = root / "templates"
    (src / "layout").mkdir(parents=True, exist_ok=True)
    (src / "layout/base.html").write_text(LAYOUT)
    (src / "layout/nav.html").write_text(NAV)
    (src / "layout/macros.html").write_text(MACROS)
    for number in range(pages):
        # Each page differs a little (so no two compile to the same code).
        text = PAGE.replace("{{ number }}", str(number)).replace(
            '<p class="lead">', f'<p class="lead" data-page="{number}">')
        (src / f"page{number:03d}.html").write_text(text)
    return src, root / "build"


def sample_data(number: int) -> dict[str, Any]:
    return {
        "title": f"page {number}", "intro": "Hello <world>", "year": 2024, "here": "/p",
        "user": {"name": "ann", "admin": number % 2 == 0} if number % 3 else None,
        "links": [{"href": "/", "title": "Home"}, {"href": "/p", "title": "Pages"}],
        "items": [{"id": i, "name": f"item {i}", "cents": 199 * i, "stock": i * 4 % 13}
                  for i in range(number % 5)],
        "tags": ["b", "a"], "query": None,
    }


def from_source(src: Path) -> Application:
    app = Application(secret=SECRET, dev=False)
    app.parse_files(src / "*.html")
    return app


def precompiled(out: Path) -> Application:
    return Application(secret=SECRET, dev=False, compiled=out)


def check_same_output(src: Path, out: Path) -> None:
    parsed, loaded = from_source(src), precompiled(out)
    for number in range(PAGES):
        name = f"page{number:03d}"
        data = sample_data(number)
        if parsed.template(name).render(data) != loaded.template(name).render(data):
            raise SystemExit(f"{name}: precompiled and from-source renders differ")


def timed(func: Callable[[], Any], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        gc.collect()  # the last run's garbage is not this run's cost
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return times


PROCESS = """
import sys, time
start = time.perf_counter()
from livetemplate import Application
app = Application(secret="bench-startup", dev=False{compiled})
{parse}
print(time.perf_counter() - start)
"""


def process_time(root: Path, precompiled_: bool) -> tuple[float, float]:
    """(seconds to the app being ready inside the process, wall seconds of the whole process)."""
    code = PROCESS.format(compiled=", compiled='build'" if precompiled_ else "",
                          parse="" if precompiled_ else "app.parse_files('templates/*.html')")
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                         check=True, env={**os.environ, "LIVETEMPLATE_DEV": ""})
    return float(run.stdout), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_startup", description=__doc__
                                     .split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run")
    parser.add_argument("--strict", action="store_true", help="exit 1 if the target is missed")
    args = parser.parse_args(argv)
    rounds, processes = (2, 1) if args.quick else (7, 5)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        src, out = make_project(root)
        start = time.perf_counter()
        result = compile_dir(lt_engine.Environment(), src, out)
        compile_seconds = time.perf_counter() - start
        assert not result.problems, result.problems
        check_same_output(src, out)
        # Alternate the two sides so drifts in machine load hit both alike.
        source_times: list[float] = []
        compiled_times: list[float] = []
        for _ in range(rounds):
            source_times += timed(lambda: from_source(src), 1)
            compiled_times += timed(lambda: precompiled(out), 3)
        source_proc: list[tuple[float, float]] = []
        compiled_proc: list[tuple[float, float]] = []
        for _ in range(processes):
            source_proc.append(process_time(root, False))
            compiled_proc.append(process_time(root, True))

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:,.1f} ms"

    ratio = statistics.median(source_times) / statistics.median(compiled_times)
    ready = [t for t, _ in source_proc], [t for t, _ in compiled_proc]
    wall = [t for _, t in source_proc], [t for _, t in compiled_proc]
    print(f"application start-up, {PAGES} pages + 3 shared templates (median of"
          f" {len(source_times)} / {len(compiled_times)} in-process runs, {processes} processes)\n")
    print("| measure | from source | precompiled | ratio |")
    print("|---|---|---|---|")
    print(f"| in process: Application ready | {ms(source_times)} | {ms(compiled_times)} |"
          f" {ratio:.1f}× |")
    print(f"| new process: imports + Application ready | {ms(ready[0])} | {ms(ready[1])} |"
          f" {statistics.median(ready[0]) / statistics.median(ready[1]):.1f}× |")
    print(f"| new process: wall time, interpreter included | {ms(wall[0])} | {ms(wall[1])} |"
          f" {statistics.median(wall[0]) / statistics.median(wall[1]):.1f}× |")
    print(f"\n`livetemplate compile` of the same project: {compile_seconds * 1000:,.0f} ms")
    passed = ratio >= TARGET_RATIO
    print(f"target: precompiled start-up >= {TARGET_RATIO:g}x faster in process:",
          "PASS" if passed else "FAIL")
    return 1 if (args.strict and not passed) else 0


# -- pytest-benchmark (collected by bench/conftest.py)


def _project(tmp_path_factory: Any) -> tuple[Path, Path]:
    src, out = make_project(tmp_path_factory.mktemp("startup"))
    assert not compile_dir(lt_engine.Environment(), src, out).problems
    return src, out


def test_startup_from_source(benchmark: Any, tmp_path_factory: Any) -> None:
    src, _ = _project(tmp_path_factory)
    benchmark.group = "start-up, 100 templates"
    benchmark.pedantic(from_source, args=(src,), rounds=3, iterations=1)


def test_startup_precompiled(benchmark: Any, tmp_path_factory: Any) -> None:
    _, out = _project(tmp_path_factory)
    benchmark.group = "start-up, 100 templates"
    benchmark.pedantic(precompiled, args=(out,), rounds=10, iterations=1, warmup_rounds=1)


if __name__ == "__main__":
    sys.exit(main())
