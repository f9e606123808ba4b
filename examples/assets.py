"""What every example serves beside its page: the stylesheet and the icon.

``/static/`` holds ``examples.css`` (the one stylesheet) and ``favicon.svg``; the pages link the
icon, and ``/favicon.ico`` answers too, so no browser request ends in a 404.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


async def favicon(request: Request) -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def asset_routes() -> list[BaseRoute]:
    return [Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Route("/favicon.ico", favicon)]
