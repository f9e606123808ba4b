"""The load tool (``bench/load.py``): a tiny run end to end, and its lost-update check.

The figures of real runs are in ``bench/README.md``; here only correctness is asserted.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load_client import Member

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("group", [1, 5])
def test_a_small_run_has_no_errors_and_no_lost_updates(tmp_path: Path, group: int) -> None:
    out = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--idle", "20", "--active", "20", "--pages", "20",
         "--group", str(group), "--seconds", "1", "--clients", "2", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(out.read_text())
    assert figures["errors"] == 0 and figures["lost_updates"] == 0
    assert figures["idle_opened"] == figures["idle_still_open"] == 20
    assert figures["active_opened"] == 20 and figures["actions"] > 0
    assert figures["memory"]["per_page_kib"] is not None
    assert "lost updates: 0" in done.stdout


def update(count: int, who: str) -> str:
    return json.dumps({"tree": {"1": str(count), "2": who}, "meta": {}})


class Sink:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_text(self, text: str) -> None:
        self.sent.append(text)


def test_the_client_counts_skipped_and_repeated_updates() -> None:
    async def scenario() -> Member:
        member = Member("a0", "/own", "a0")
        member.client = Sink()  # type: ignore[assignment]
        member.on_text(json.dumps({"tree": {"s": [], "1": "0", "2": ""}, "meta": {}}))
        member.act()
        assert json.loads(member.client.sent[0])["data"] == {"who": "a0:1"}  # type: ignore[union-attr]
        member.on_text(update(1, "a0:1"))
        assert member.reply is not None and member.reply.done()
        assert member.done == 1 and member.lost == 0 and not member.errors
        member.on_text(update(4, "x:1"))  # 2 and 3 never arrived
        member.on_text(update(4, "x:2"))  # 4 twice
        member.on_text(json.dumps({"type": "error", "code": "bad_data", "message": "m"}))
        return member

    member = asyncio.run(scenario())
    assert member.lost == 2
    assert member.errors == ["count went from 4 to 4", "error bad_data: m"]
