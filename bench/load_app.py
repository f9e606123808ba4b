"""The load tool's server app (``uvicorn --factory bench.load_app:make_app``).

One template, a counter page that also shows who acted last (``"client:seq"``), so a client can
tell its own reply from another client's update on a shared page, and a ``blob`` that
``/push`` fills with big updates (for slow-client tests). Endpoints:

- ``/own``: WebSocket, a new page per connection (Pattern 1).
- ``/shared?group=G``: WebSocket, every connection with the same ``G`` shares one page.
- ``/pages?n=K`` (POST): make ``K`` pages without connections, to measure memory per page.
- ``/push?group=G&size=N&count=K`` (POST): ``K`` updates of an ``N``-character blob to group G.
- ``/gc-freeze`` (POST): ``gc.freeze()``: what exists now is left out of later collections.
- ``/stats``: pid, CPU and GC seconds (longest pause, full collections; ``?reset_gc=1`` resets
  those two; ``?objects=1`` adds the count of GC-tracked objects), live pages, attached
  connections (the load tool reads the server's memory from ``/proc`` itself: this process may
  have no file descriptor left to open it).

``LOAD_LIMITS`` (a JSON object of :class:`livetemplate.Limits` fields) overrides the limits;
by default the rate limit is off and ``max_pages`` is 100,000, since a load run is one client
hammering one server on purpose.
"""

from __future__ import annotations

import gc
import json
import os
import time
import weakref
from typing import Any

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.bench_server import GcTimer
from livetemplate import Application, Limits, Page

TEMPLATE = (
    '<h1>{{ title }}</h1><p><span id="count">{{ count }}</span>'
    ' last: <span id="last">{{ last }}</span></p>'
    '<button lvt-click="increment">+</button><pre>{{ blob }}</pre>'
)
COUNT_SLOT = "1"  # the slots of TEMPLATE's tree a client reads
LAST_SLOT = "2"
BLOB_SLOT = "3"
LIMITS_ENV = "LOAD_LIMITS"
DEFAULT_LIMITS: dict[str, Any] = {"rate": None, "max_pages": 100_000}


class Counter:
    def __init__(self) -> None:
        self.title = "Load"
        self.count = 0
        self.last = ""
        self.blob = ""

    def increment(self, ctx: Any) -> None:
        self.count += 1
        self.last = ctx.get_str("who", "")


def make_app() -> Starlette:
    overrides = json.loads(os.environ.get(LIMITS_ENV) or "{}")
    live = Application(secret="load", limits=Limits(**{**DEFAULT_LIMITS, **overrides}))
    live.add_template("counter", TEMPLATE)
    timer = GcTimer()
    groups: dict[str, Page] = {}
    pages: weakref.WeakSet[Page] = weakref.WeakSet()
    kept: list[Page] = []  # pages made by /pages, kept alive for the memory figure

    def counter_page() -> Page:
        page = live.new_page("counter", Counter())
        pages.add(page)
        return page

    def own(conn: HTTPConnection) -> Page:
        return counter_page()

    def shared(conn: HTTPConnection) -> Page:
        group = conn.query_params.get("group", "")
        page = groups.get(group)
        if page is None:
            page = groups[group] = counter_page()
        return page

    async def make_pages(request: Request) -> JSONResponse:
        count = min(int(request.query_params.get("n", "1")), 100_000)
        kept.extend(counter_page() for _ in range(count))
        return JSONResponse({"pages": live.page_count})

    async def push(request: Request) -> JSONResponse:
        page = groups.get(request.query_params.get("group", ""))
        if page is None:
            return JSONResponse({"error": "no such group"}, status_code=404)
        size = min(int(request.query_params.get("size", "1000")), 16 * 2**20)
        count = min(int(request.query_params.get("count", "1")), 10_000)
        for _ in range(count):
            page.model.count += 1
            # differs on every push, so every push is an update of ``size`` characters
            page.update(blob=str(page.model.count % 10) * size)
        return JSONResponse({"count": page.model.count, "connections": page.connections})

    async def gc_freeze(request: Request) -> JSONResponse:
        gc.freeze()
        return JSONResponse({"frozen": gc.get_freeze_count()})

    async def stats(request: Request) -> JSONResponse:
        group = request.query_params.get("group")
        if request.query_params.get("reset_gc"):
            timer.longest, timer.longest_cpu, timer.full = 0.0, 0.0, 0
        extra = {"gc_objects": len(gc.get_objects())} if request.query_params.get("objects") \
            else {}
        return JSONResponse({
            "pid": os.getpid(), "cpu": time.process_time(), "gc": timer.total,
            "collections": timer.collections, "gc_longest": timer.longest,
            "gc_longest_cpu": timer.longest_cpu,
            "gc_full": timer.full, "pages": live.page_count,
            "connections": sum(p.connections for p in list(pages)),
            "group_connections": groups[group].connections if group in groups else 0,
            **extra,
        })

    return Starlette(routes=[
        *live.routes("/own", new_page=own),
        *live.routes("/shared", new_page=shared),
        Route("/pages", make_pages, methods=["POST"]),
        Route("/push", push, methods=["POST"]),
        Route("/gc-freeze", gc_freeze, methods=["POST"]),
        Route("/stats", stats),
    ])
