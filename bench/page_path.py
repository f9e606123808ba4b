"""The in-process page path: what one action costs inside ``app.handle_action``, no network.

``python -m bench.page_path`` runs the W1 counter as users write it (a data model whose
``increment`` is the action, one attached connection that drops what it is given) and times
``await app.handle_action(page, frame, origin=tab)``: parsing, the page's change path over its
store, the re-render, the encoding and the hand-over to the connection. Beside it, in the same
run, Jinja2 re-renders the same page after the same action (what a classic server does per
action). Best of ``--repeats`` (default 7) runs of ``--actions`` (default 20,000) each, GC on; CPU time
(``time.process_time``), so other work on the machine does not count.

It exists to hold the page path to its cost when its shape changes (issue 13: one path over one
async store); the figure is per action, in microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time

import jinja2

from bench.sink import Sink
from bench.workloads import W1_TEMPLATE, W1Counter
from livetemplate import Application

FRAME = '{"type":"action","action":"increment","data":{}}'


async def live_run(actions: int) -> float:
    app = Application(secret="bench-secret" * 3)
    app.add_template("w1", W1_TEMPLATE)
    page = app.new_page("w1", W1Counter())
    tab = Sink()
    await page.connect(tab)
    handle = app.handle_action
    await handle(page, FRAME, origin=tab)  # warm-up
    started = time.process_time()
    for _ in range(actions):
        await handle(page, FRAME, origin=tab)
    return (time.process_time() - started) / actions


def jinja_run(actions: int) -> float:
    template = jinja2.Environment(autoescape=True).from_string(W1_TEMPLATE)
    model = W1Counter()
    started = time.process_time()
    for _ in range(actions):
        model.increment()
        template.render(title=model.title, count=model.count)
    return (time.process_time() - started) / actions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    live, jinja = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine load
        gc.collect()
        live.append(asyncio.run(live_run(args.actions)))
        gc.collect()
        jinja.append(jinja_run(args.actions))
    best_live, best_jinja = min(live), min(jinja)
    print(f"W1 counter, in-process store, {args.actions} actions x {args.repeats} repeats"
          " (best)\n")
    print("| path | µs/action | vs Jinja2 re-render |")
    print("|---|---|---|")
    print(f"| app.handle_action (parse, change path, re-render, hand-over) |"
          f" {best_live * 1e6:.2f} | {best_live / best_jinja:.2f} |")
    print(f"| Jinja2: action + full re-render | {best_jinja * 1e6:.2f} | 1.00 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
