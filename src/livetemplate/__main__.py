"""``python -m livetemplate``: the same as the ``livetemplate`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
