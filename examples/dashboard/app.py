"""Pattern 2: one page shared by every tab of a browser, and by any device given its link.

``GET /`` finds the visitor's page from the token cookie (or ``?cache_token=`` in a shared link)
and serves it, or makes a new one; the WebSocket at ``/ws`` finds the same page through that
token, so all connections of the page get every update.  Run:
``uvicorn examples.dashboard.app:app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from examples.assets import asset_routes
from livetemplate import ActionContext, Application, PageLookupError, ValidationError

TEMPLATES = Path(__file__).parent / "templates"
MAX_EVENTS = 50


class Dashboard:
    def __init__(self) -> None:
        self.title = "Dashboard"
        self.count = 0
        self.events: list[dict[str, Any]] = []
        self._next_id = 1

    def increment(self) -> None:
        self.count += 1
        self._log(f"count went up to {self.count}")

    def decrement(self) -> None:
        self.count -= 1
        self._log(f"count went down to {self.count}")

    def add_note(self, ctx: ActionContext) -> None:
        text = ctx.get_str("text", "").strip()
        if not text:
            raise ValidationError(text="Write something first.")
        if len(text) > 200:
            raise ValidationError(text="Keep notes under 200 characters.")
        self._log(text)

    def _log(self, text: str) -> None:
        self.events.append({"id": self._next_id, "text": text})
        self._next_id += 1
        del self.events[:-MAX_EVENTS]


live = Application()
live.parse_files(TEMPLATES / "*.html")


async def index(request: Request) -> Response:
    try:
        page = await live.load_page(request)  # any store: in-process or Redis
    except PageLookupError:
        page = live.new_page("dashboard", Dashboard())
        page.update(share_url=f"/?cache_token={page.get_token()}")
    return page.serve_http(request)


app = Starlette(routes=[Route("/", index), *live.routes("/ws"), *asset_routes()])
