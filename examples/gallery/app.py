"""An image gallery: up to 3 images of at most 5 MB each per upload, sent over the live connection.

The form's file input (``lvt-upload="photos"``) uploads when the form is submitted: the server
checks types, sizes and count before storing a byte (``#upload-error`` says why it refused), a
progress bar per file moves as chunks arrive, and the ``save`` action moves the completed files
into the gallery's folder, lists them in ``#files`` and flashes how many it stored. Files can be
dropped on the marked area too. Each browser has its own gallery page (found again through the
token cookie on reload); the images live in ``$GALLERY_DIR`` (default: a fresh temporary folder).
Run: ``uvicorn examples.gallery.app:app``.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from examples.assets import asset_routes
from livetemplate import ActionContext, Application, PageLookupError, Upload, ValidationError

TEMPLATES = Path(__file__).parent / "templates"
STORE = Path(os.environ.get("GALLERY_DIR") or tempfile.mkdtemp(prefix="livetemplate-gallery-"))
TYPES = (".png", ".jpg", ".gif", ".webp")
MEDIA = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(png|jpg|gif|webp)")
MAX_FILES = 60  # per gallery: the oldest go first


class Gallery:
    photos = Upload(accept=TYPES, max_entries=3, max_size=5 * 1024 * 1024)

    def __init__(self) -> None:
        self.files: list[dict[str, Any]] = []

    def save(self, ctx: ActionContext) -> None:
        entries = ctx.uploaded("photos")
        if not entries:
            raise ValidationError(photos="Choose up to 3 images first.")
        for entry in entries:
            # The client's file name is shown, never used as a path: stored under a fresh name.
            stored = f"{uuid.uuid4().hex}{Path(entry.name).suffix.lower()}"
            entry.move_to(STORE / stored)
            self.files.append({"id": stored[:32], "name": entry.name, "size": entry.size,
                               "stored": stored})
        for gone in self.files[:-MAX_FILES]:
            (STORE / gone["stored"]).unlink(missing_ok=True)
        self.files = self.files[-MAX_FILES:]
        ctx.flash("info", f"Uploaded {len(entries)} {'file' if len(entries) == 1 else 'files'}.")

    def remove(self, ctx: ActionContext) -> None:
        file_id = ctx.get_str("id")
        for f in self.files:
            if f["id"] == file_id:
                (STORE / f["stored"]).unlink(missing_ok=True)
                self.files = [g for g in self.files if g is not f]
                return


live = Application()
live.parse_files(TEMPLATES / "*.html")


async def index(request: Request) -> Response:
    try:
        page = await live.load_page(request)  # any store: in-process or Redis
    except PageLookupError:
        page = live.new_page("gallery", Gallery())
    return page.serve_http(request)


async def stored_file(request: Request) -> Response:
    name = request.path_params["name"]
    if not STORED_NAME.fullmatch(name) or not (STORE / name).is_file():
        return PlainTextResponse("no such image", status_code=404)
    return FileResponse(STORE / name, media_type=MEDIA[Path(name).suffix],
                        headers={"X-Content-Type-Options": "nosniff"})


app = Starlette(routes=[Route("/", index), Route("/files/{name}", stored_file),
                        *live.routes("/ws"), *asset_routes()])
