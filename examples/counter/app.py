"""Pattern 1: a new page per WebSocket connection.

``GET /`` renders the template with its starting data (no page yet); each WebSocket connection to
``/ws`` makes its own page, is sent ``{"type": "page_token", ...}`` and then the full tree, and
from then on gets an update per action.  Run: ``uvicorn examples.counter.app:app``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route
from starlette.websockets import WebSocket

from examples.assets import asset_routes
from livetemplate import Application, Page

TEMPLATES = Path(__file__).parent / "templates"


class Counter:
    def __init__(self) -> None:
        self.title = "Counter"
        self.count = 0

    def increment(self) -> None:
        self.count += 1

    def decrement(self) -> None:
        self.count -= 1


live = Application()
live.parse_files(TEMPLATES / "*.html")


async def index(request: Request) -> HTMLResponse:
    return HTMLResponse(live.render("counter", vars(Counter())))


def new_counter(websocket: WebSocket) -> Page:
    return live.new_page("counter", Counter())


app = Starlette(routes=[Route("/", index), *live.routes("/ws", new_page=new_counter),
                        *asset_routes()])
