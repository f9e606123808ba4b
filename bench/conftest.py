"""pytest set-up for the benchmark suite.

The suite's files are named ``bench_*.py`` so the normal test run (``testpaths = ["tests"]``,
default ``test_*.py`` pattern) never collects them; this hook makes ``pytest bench/`` collect
them.  This conftest is only loaded when ``bench/`` itself is being collected.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # A file named on the command line is already collected by pytest itself; returning it
    # again would run every benchmark twice.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        return pytest.Module.from_parent(parent, path=file_path)
    return None
