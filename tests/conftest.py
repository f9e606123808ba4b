"""Test-wide settings."""

from __future__ import annotations

import os

# A test process makes thousands of Applications, each a reference cycle (pages <-> app) that
# only a collection frees: frozen out of the GC's reach (livetemplate.collector) they would
# stay. tests/test_collector.py turns it on where it is tested.
os.environ.setdefault("LIVETEMPLATE_TUNE_GC", "0")
