"""``python -m bench.bench_components``: the report runs and both paths change the same row.
No timing assertions."""

from __future__ import annotations

import asyncio

import pytest

from bench import bench_components


def test_the_component_and_the_page_action_send_the_same_change() -> None:
    _, component_bytes = asyncio.run(bench_components.per_action(50, 4, component=True))
    _, page_bytes = asyncio.run(bench_components.per_action(50, 4, component=False))
    assert 0 < component_bytes < 400 and 0 < page_bytes < 400


def test_the_report_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_components.main(["--rows", "30", "--rounds", "6"]) == 0
    out = capsys.readouterr().out
    assert "component action (lvt-target)" in out and "faster than jinja2" in out
