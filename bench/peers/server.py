"""W1 and W2 through a real uvicorn worker: LiveTemplate's endpoints beside pyview's.

``python -m bench.peers.server`` starts one uvicorn worker per framework in its own process
(``bench.bench_server.Server``) and drives it from this process over real WebSockets, one
connection and then 50 at once, each sending an action and awaiting the reply in a loop: actions
per second, median round trip, bytes per reply, the server's CPU per action and its resident
memory per open connection (one page each).

LiveTemplate: ``bench.bench_server``'s app (Pattern 1: a page per connection; W2's rows tracked,
as the web layer does).  pyview: a ``PyView`` app with the same two pages as LiveViews (the ibis
templates ``bench.peers.workloads.to_ibis`` derives from the same Jinja2 sources), driven with
its Phoenix channel protocol: GET the page, join its topic with the page's CSRF token and
session, then ``event`` messages, each answered by a ``phx_reply`` carrying the diff.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
import urllib.request
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.bench_server import Gate, GcTimer, Run, Server, measure
from bench.peers.workloads import to_ibis
from bench.workloads import W1_TEMPLATE, W2_TEMPLATE, w1_build, w2_build

CONNECTIONS = (1, 50)
ENDPOINTS = ("w1", "w2")


# --- the pyview server ------------------------------------------------------------------------


def make_pyview_app() -> Any:
    """``uvicorn --factory bench.peers.server:make_pyview_app``: /w1, /w2 and /stats."""
    from pyview import LiveView, PyView
    from pyview.template.live_template import LiveRender, LiveTemplate
    from pyview.vendor.ibis import Template

    def view(template: str, build: Any, handle: Any) -> type:
        compiled = LiveTemplate(Template(to_ibis(template), template_id="bench"))

        class View(LiveView):  # type: ignore[misc]
            async def mount(self, socket: Any, session: Any) -> None:
                socket.context = build()

            async def handle_event(self, event: str, payload: Any, socket: Any) -> None:
                handle(socket.context, payload)

            async def render(self, assigns: Any, meta: Any) -> Any:
                return LiveRender(compiled, assigns, meta)

        return View

    def increment(data: dict[str, Any], payload: Any) -> None:
        data["count"] += 1

    def toggle(data: dict[str, Any], payload: Any) -> None:
        todo = data["todos"][int(payload["id"])]
        todo["done"] = not todo["done"]
        data["remaining"] += -1 if todo["done"] else 1

    app = PyView()
    app.add_live_view("/w1", view(W1_TEMPLATE, w1_build, increment))
    app.add_live_view("/w2", view(W2_TEMPLATE, w2_build, toggle))
    timer = GcTimer()

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"cpu": time.process_time(), "gc": timer.total,
                             "collections": timer.collections})

    app.routes.append(Route("/stats", stats))
    return app


# --- the pyview client ------------------------------------------------------------------------

SESSION = re.compile(r'data-phx-session="([^"]*)"')
PAGE_ID = re.compile(r'id="(phx-[^"]+)"')
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


async def pyview_connection(url: str, endpoint: str, max_actions: int, run: Run, gate: Gate,
                            seed: int) -> None:
    """One browser's worth of pyview: the page over HTTP, a join, then events in a loop."""
    from websockets.asyncio.client import connect

    page_url = url.replace("ws://", "http://", 1)
    base = page_url.rsplit("/", 1)[0]
    html = await asyncio.to_thread(_get, page_url)
    topic = "lv:" + _find(PAGE_ID, html)
    join = {"url": page_url, "params": {"_csrf_token": _find(CSRF, html), "_mounts": 0},
            "session": _find(SESSION, html), "static": ""}
    rng = random.Random(seed)
    ws_url = base.replace("http://", "ws://", 1) + "/live/websocket?vsn=2.0.0"
    async with connect(ws_url, max_size=2**24, compression=None) as ws:
        await ws.send(json.dumps(["1", "1", topic, "phx_join", join]))
        joined = json.loads(await ws.recv())
        if joined[4].get("status") != "ok":
            raise RuntimeError(f"pyview join refused: {joined}")
        await gate.wait()
        perf = time.perf_counter
        for ref in range(2, max_actions + 2):
            if perf() >= gate.deadline:
                break
            if endpoint == "w2":
                event = {"type": "click", "event": "toggle", "value": {"id": str(rng.randrange(1000))}}
            else:
                event = {"type": "click", "event": "increment", "value": {}}
            sent = perf()
            await ws.send(json.dumps(["1", str(ref), topic, "event", event]))
            reply = await ws.recv()
            run.latencies.append(perf() - sent)
            run.reply_bytes += len(reply)
            if '"diff"' not in reply:
                raise RuntimeError(f"unexpected reply from pyview /{endpoint}: {reply[:200]!r}")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def _find(pattern: re.Pattern[str], html: str) -> str:
    match = pattern.search(html)
    if match is None:
        raise RuntimeError(f"pyview page without {pattern.pattern}")
    return match.group(1)


# --- the report -------------------------------------------------------------------------------

FRAMEWORKS = {  # name -> (uvicorn factory, client loop; None = LiveTemplate's own)
    "LiveTemplate": ("bench.bench_server:make_app", None),
    "pyview": ("bench.peers.server:make_pyview_app", pyview_connection),
}


def run_all(seconds: float) -> list[tuple[str, Run]]:
    runs = []
    for name, (factory, loop) in FRAMEWORKS.items():
        for endpoint in ENDPOINTS:
            # A fresh server per page: the first run with many connections measures memory
            # before any earlier pages' freed memory could be reused (RSS does not shrink).
            with Server(factory=factory) as server:
                pid = server.proc.pid if server.proc is not None else None
                # warm-up on one connection: imports, the first page, lazily built state
                asyncio.run(measure(server.ws, server.http, endpoint, 1, 0.2, 50, loop))
                for connections in sorted(CONNECTIONS, reverse=True):
                    runs.append((name, asyncio.run(measure(
                        server.ws, server.http, endpoint, connections, seconds, 50_000, loop,
                        pid))))
    return sorted(runs, key=lambda nr: (nr[1].endpoint, nr[0] != "LiveTemplate",
                                        nr[1].connections))


def table(runs: list[tuple[str, Run]]) -> str:
    lines = ["| page | framework | conns | actions/s | p50 µs | bytes per reply "
             "| server CPU µs/action | server memory per connection |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in runs:
        cpu = r.server_cpu / r.actions * 1e6 if r.actions else 0.0
        per_conn = (r.rss_open - r.rss_before) / r.connections if r.connections > 1 else None
        memory = f"{per_conn / 1000:,.0f} KB" if per_conn is not None else "–"
        size = r.reply_bytes / r.actions if r.actions else 0.0
        lines.append(f"| {r.endpoint.upper()} | {name} | {r.connections} | {r.per_second:,.0f} "
                     f"| {r.median_us:,.0f} | {size:,.0f} | {cpu:,.0f} | {memory} |")
    return "\n".join(lines)


LEGEND = """\
One uvicorn worker per framework, on loopback; the client runs in another process on the same
2 cores. W1: the counter; W2: the 1,000-row todo list, a random row toggled per action.
Memory per connection: a fresh server's resident memory with all 50 connections open (one page
each) minus before they connected (after one warm-up connection), divided by 50."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers.server",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement")
    parser.add_argument("--quick", action="store_true", help="0.3 s per measurement (smoke test)")
    args = parser.parse_args(argv)
    runs = run_all(0.3 if args.quick else args.seconds)
    print(table(runs) + "\n\n" + LEGEND)
    return 0


if __name__ == "__main__":
    sys.exit(main())
