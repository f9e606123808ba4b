"""A chat page that receives 100,000 messages: server memory with a stream against a list.

The page is written as a user writes it (examples/chat): a data model whose ``send`` action
appends a message, run through ``Page.run_action`` of a live page with one connection (its
messages are serialised and discarded, as a socket would take them).  The *stream* page loops
over ``stream("messages")`` (``Stream(limit=200)``: the browser keeps the newest 200); the
*list* page keeps every message in a list, the way a page without streams must (it is run to
``--list-n`` messages, 10,000 by default: its updates grow with the list, so 100,000 would take
most of an hour; its memory grows linearly, reported per message).  Memory is what
``tracemalloc`` counts as allocated after a full collection, at checkpoints.

Beside it, the time of one append on the stream page against Jinja2 re-rendering the list
page's whole HTML at that size (what a re-render-everything framework does per message),
measured in the same run, as a ratio.

Run: ``.venv/bin/python -m bench.bench_streams [--n 100000] [--list-n 10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from typing import Any

import jinja2

from bench.sink import Sink
from livetemplate import ActionContext, Application, Stream

ITEM = '<li data-key="{{ m.id }}"><b>{{ m.author }}</b> {{ m.text }}</li>'
STREAM_PAGE = f'<ul id="messages">{{% for m in stream("messages") %}}{ITEM}{{% endfor %}}</ul>'
LIST_PAGE = f'<ul id="messages">{{% for m in messages %}}{ITEM}{{% endfor %}}</ul>'
LIMIT = 200


class Room:
    def __init__(self, messages: Any) -> None:
        self.messages = messages
        self.next_id = 1

    def send(self, ctx: ActionContext) -> None:
        self.messages.append({"id": self.next_id, "author": "ann", "text": ctx.get_str("text")})
        self.next_id += 1



def checkpoints(n: int) -> list[int]:
    return sorted({c for c in (n // 100, n // 10, n // 4, n // 2, n) if c > 0})


async def run(kind: str, n: int, marks: list[int] | None = None) -> list[tuple[int, int]]:
    """(messages sent, bytes allocated) at each checkpoint (``marks``, by default
    ``checkpoints(n)``)."""
    app = Application(secret="bench-streams-secret-0123456789abcdef")
    app.add_template("chat", STREAM_PAGE if kind == "stream" else LIST_PAGE)
    page = app.new_page("chat", Room(Stream(limit=LIMIT) if kind == "stream" else []))
    sink = Sink()
    page.attach(sink)
    marks = sorted(set(marks or checkpoints(n)))
    out = []
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(1, n + 1):
        await page.run_action("send", {"text": f"message {i}"}, sink)
        if i == marks[0]:
            marks.pop(0)
            gc.collect()
            out.append((i, tracemalloc.get_traced_memory()[0] - base))
    tracemalloc.stop()
    return out


async def append_time(rounds: int) -> float:
    """Seconds per append on a live stream page (no tracing)."""
    app = Application(secret="bench-streams-secret-0123456789abcdef")
    app.add_template("chat", STREAM_PAGE)
    page = app.new_page("chat", Room(Stream(limit=LIMIT)))
    sink = Sink()
    page.attach(sink)
    start = time.perf_counter()
    for i in range(rounds):
        await page.run_action("send", {"text": f"message {i}"}, sink)
    return (time.perf_counter() - start) / rounds


def jinja_time(size: int, rounds: int) -> float:
    """Seconds for Jinja2 to re-render the list page holding ``size`` messages."""
    tpl = jinja2.Environment(autoescape=True).from_string(LIST_PAGE)
    data = {"messages": [{"id": i, "author": "ann", "text": f"message {i}"} for i in range(size)]}
    start = time.perf_counter()
    for _ in range(rounds):
        tpl.render(data)
    return (time.perf_counter() - start) / rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="messages to send (100,000)")
    parser.add_argument("--list-n", type=int, default=10_000,
                        help="messages to send to the list page (10,000)")
    args = parser.parse_args(argv)
    n = args.n
    stream = asyncio.run(run("stream", n))
    list_n = min(n, args.list_n)
    marks = [c for c in checkpoints(n) if c < list_n] + [list_n]
    listed = dict(asyncio.run(run("list", list_n, marks)))
    print(f"server memory of one chat page after N messages (tracemalloc, KiB; limit={LIMIT})")
    print(f"{'N':>9} {'stream':>9} {'list':>9}")
    for i, s in stream:
        m = f"{listed[i] / 1024:9.1f}" if i in listed else f"{'-':>9}"
        print(f"{i:>9,} {s / 1024:>9.1f} {m}")
    growth = stream[-1][1] - stream[0][1]
    print(f"stream growth from {stream[0][0]:,} to {n:,} messages: {growth / 1024:.1f} KiB")
    marks = sorted(listed)
    if len(marks) > 1:
        per = (listed[marks[-1]] - listed[marks[0]]) / (marks[-1] - marks[0])
        print(f"list page: {per:.0f} bytes a message, {per * n / 2**20:.1f} MiB for {n:,}")
    per_append = asyncio.run(append_time(min(n, 2000)))
    print("one append on the stream page vs jinja2 re-rendering the list page at that size:")
    for size in sorted({min(n, s) for s in (1_000, 10_000, 100_000)}):
        j = jinja_time(size, 3 if size > 10_000 else 10)
        print(f"{size:>9,} messages: stream {per_append * 1e6:8.1f} us, jinja2 {j * 1e6:10.1f} us,"
              f" ratio {j / per_append:8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
