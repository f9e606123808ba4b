"""``scripts/screenshots`` (examples/screenshots.py) still drives every example to its scene."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from examples.screenshots import SHOTS

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_screenshot_is_taken(browser: Any, tmp_path: Path) -> None:
    # ``browser`` only for its skip (or failure) when Chromium is missing: the script launches
    # its own, in a process of its own, as ``scripts/screenshots`` does.
    done = subprocess.run([sys.executable, "-m", "examples.screenshots", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in SHOTS:
        shot = tmp_path / f"{name}.png"
        assert shot.read_bytes()[:8] == PNG_MAGIC, name
        assert shot.stat().st_size > 5_000, f"{name}.png looks blank"
