"""pytest-benchmark suite: LiveTemplate engine vs Jinja2, side by side per workload.

Run ``pytest bench/ --benchmark-only`` (add ``--benchmark-group-by=group`` is the default).  Each
workload has two groups: "<W> action" (Jinja2 full re-render vs LT update with and without
``changed``) and "<W> first render" (Jinja2 render vs LT ``mount`` + ``html``).  What a round
contains is defined once in :mod:`bench.harness`; ``python -m bench.report`` prints the ratios.
"""

from __future__ import annotations

from typing import Any

import jinja2
import pytest

from bench.harness import Jinja2Page, LtPage, jinja2_env, jinja2_step, lt_step
from bench.workloads import WORKLOADS, Workload

lt_engine = pytest.importorskip("lt_engine")

# Pedantic rounds for workloads that start every round from fresh state (set-up is not timed).
RESET_ROUNDS = 200

params = pytest.mark.parametrize("wl", WORKLOADS, ids=[w.key for w in WORKLOADS])


@pytest.fixture(scope="module")
def j2_env() -> jinja2.Environment:
    return jinja2_env()


@pytest.fixture(scope="module")
def lt_env() -> Any:
    return lt_engine.Environment()


def run_rounds(benchmark: Any, wl: Workload, make: Any, step: Any) -> Any:
    """Benchmark ``step(page)``; for reset workloads every round gets a freshly made page."""
    if wl.reset_each_round:
        last: list[Any] = []

        def setup() -> tuple[tuple[Any], dict[str, Any]]:
            last[:] = [make()]
            return (last[0],), {}

        benchmark.pedantic(step, setup=setup, rounds=RESET_ROUNDS, iterations=1)
        return last[0]
    page = make()
    benchmark(step, page)
    return page


@params
def test_action_jinja2_rerender(benchmark: Any, wl: Workload, j2_env: jinja2.Environment) -> None:
    benchmark.group = f"{wl.label} action"
    tpl = j2_env.from_string(wl.template)
    run_rounds(benchmark, wl, lambda: Jinja2Page(wl, tpl), jinja2_step(wl))


@params
@pytest.mark.parametrize("with_changed", [True, False], ids=["changed", "auto"])
def test_action_lt_update(
    benchmark: Any,
    wl: Workload,
    with_changed: bool,
    j2_env: jinja2.Environment,
    lt_env: Any,
) -> None:
    benchmark.group = f"{wl.label} action"
    tpl = lt_env.from_string(wl.template)
    page = run_rounds(benchmark, wl, lambda: LtPage(wl, tpl), lt_step(wl, with_changed))
    # A benchmark of wrong output is worthless: the page must still match Jinja2 afterwards.
    assert page.mounted.html() == j2_env.from_string(wl.template).render(page.data)


@params
def test_first_render_jinja2(benchmark: Any, wl: Workload, j2_env: jinja2.Environment) -> None:
    benchmark.group = f"{wl.label} first render"
    tpl = j2_env.from_string(wl.template)
    benchmark(tpl.render, wl.build())


@params
def test_first_render_lt(
    benchmark: Any, wl: Workload, j2_env: jinja2.Environment, lt_env: Any
) -> None:
    benchmark.group = f"{wl.label} first render"
    tpl = lt_env.from_string(wl.template)
    data = wl.build()
    html = benchmark(lambda: tpl.mount(data).html())
    assert html == j2_env.from_string(wl.template).render(data)
