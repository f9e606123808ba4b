"""The benchmark report runs end to end (tiny mode): every workload, both update modes, the
correctness checks against Jinja2, the memory line and the targets.  No timing assertions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quick_run(module: str) -> str:
    """What ``python -m module --quick`` prints; it must exit 0."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_report_quick_mode_runs_and_prints_the_table() -> None:
    out = quick_run("bench.report")
    assert "| workload " in out and "jinja2 re-render µs" in out and "size ratio" in out
    for label in ("W1 counter", "W2 todo-1k", "W3 table-10k", "W4 append"):
        assert f"| {label}" in out
    assert "memory: mounted page holds" in out
    assert "targets:" in out


def test_startup_report_quick_mode_compares_both_start_ups() -> None:
    out = quick_run("bench.bench_startup")
    for row in ("| in process: Application ready |", "| new process: imports + Application ready |",
                "| new process: wall time, interpreter included |"):
        assert row in out
    assert "target: precompiled start-up" in out


def test_report_writes_its_table_into_the_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- engine-table: written by python -m bench.report --readme"
                      " README.md -->\nold\n<!-- /engine-table -->\nafter\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.report", "--quick", "--only", "W1,W2-nokey",
         "--readme", str(readme)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = readme.read_text()
    assert text.startswith("before\n") and text.endswith("after\n") and "old" not in text
    assert "| W1 counter |" in text and "| W2-nokey dataclass todos, no key |" in text
    assert "(≥ 40×)" in text
