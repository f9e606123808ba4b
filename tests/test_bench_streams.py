"""``python -m bench.bench_streams``: a stream page's memory stays flat while a list page's grows,
and the report runs.  No timing assertions."""

from __future__ import annotations

import asyncio

import pytest

from bench import bench_streams


def test_the_stream_page_holds_nothing_per_message_the_list_page_does() -> None:
    stream = asyncio.run(bench_streams.run("stream", 3000))
    listed = asyncio.run(bench_streams.run("list", 3000))
    assert [n for n, _ in stream] == [30, 300, 750, 1500, 3000]
    # 2,970 messages later: a few hundred bytes (ids counting up), not ~0.5 KB a message
    assert stream[-1][1] - stream[0][1] < 8 * 1024
    assert listed[-1][1] - listed[0][1] > 2970 * 300


def test_the_report_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_streams.main(["--n", "400"]) == 0
    out = capsys.readouterr().out
    assert "stream growth from 4 to 400 messages" in out and "ratio" in out
