"""A connected client whose socket takes every message at once: the page path up to the
hand-over, with no network (the in-process benchmarks attach it to their pages)."""

from __future__ import annotations

from livetemplate.connection import Connection


class Sink(Connection):
    def __init__(self) -> None:  # no socket: nothing of Connection's own state is needed
        self.sent = 0  # characters delivered

    def deliver(self, text: str) -> None:
        self.sent += len(text)
