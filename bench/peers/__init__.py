"""LiveTemplate beside the peers a Python developer would otherwise choose (``python -m bench.peers``).

Needs the ``peers`` extra (``scripts/setup peers``): pyview, pinned.  See ``bench/README.md``.
"""
