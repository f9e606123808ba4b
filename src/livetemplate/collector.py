"""The cyclic garbage collector under many live pages: what lives long is frozen out of its reach.

CPython's cyclic GC walks every tracked container of the generations it collects, and a full
collection walks them all. Pages and their connections live for minutes, and a worker holding
12,000 connections tracks ~1.7 M such objects: full collections of them paused it for 0.8–1.4 s
(``bench/README.md``, Load). So a process serving live pages does, by itself:

- after start-up (the first page made): one full collection, then ``gc.freeze()``, which moves
  every object alive into a permanent generation that no collection walks — modules, templates,
  the application — and collection thresholds sized for a heap of many small containers;
- after every ``FREEZE_EVERY`` pages made or connections opened (at most every
  ``FREEZE_INTERVAL`` seconds): a collection of the youngest generation (cheap: at most its
  threshold of objects), then ``gc.freeze()`` again, so the pages and connections made since
  leave the collector's reach too.

Frozen objects are still freed by reference counting when their page or connection goes; only
reference cycles among them wait for ``gc.unfreeze()`` (which ``collect_all()`` does). Switch it
off with ``Application(tune_gc=False)`` or ``LIVETEMPLATE_TUNE_GC=0``. The collector is one per
process, shared by every Application in it.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable

ENV = "LIVETEMPLATE_TUNE_GC"
FREEZE_EVERY = 200  # pages made or connections opened between two freezes
FREEZE_INTERVAL = 1.0  # seconds, at least, between two freezes
# Young collections every 10,000 new containers instead of 700: a page of many small objects
# then survives fewer young collections; a full one waits for 50 middle ones instead of 10.
THRESHOLDS = (10_000, 10, 50)


def wanted(option: bool | None) -> bool:
    """``Application(tune_gc=...)``, else ``$LIVETEMPLATE_TUNE_GC`` (on unless ``0``)."""
    if option is not None:
        return option
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")


class Collector:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.active = False
        self.grown = 0  # pages and connections made since the last freeze
        self.last = 0.0
        self.freezes = 0

    def grew(self) -> None:
        """A page was made or a connection opened: freeze once enough of them are new."""
        if not self.active:
            return
        self.grown += 1
        if self.grown >= FREEZE_EVERY and self.clock() - self.last >= FREEZE_INTERVAL:
            gc.collect(0)  # young garbage first, so that it is not frozen
            self._freeze()

    def start(self) -> None:
        """Called by an Application that wants it, when it makes its first page."""
        if self.active:
            return
        self.active = True
        gc.collect()
        gc.set_threshold(*THRESHOLDS)
        self._freeze()

    def _freeze(self) -> None:
        gc.freeze()
        self.grown = 0
        self.last = self.clock()
        self.freezes += 1

    def collect_all(self) -> int:
        """Unfreeze, collect everything (one long pause), freeze again; returns what was freed.

        For a quiet moment of a long-running process whose pages' data models hold reference
        cycles (those are only freed by a collection)."""
        gc.unfreeze()
        freed = gc.collect()
        self._freeze()
        return freed


COLLECTOR = Collector()
