"""A todo list: add (a form, validated), toggle, delete, filter, clear; rows keyed by ``data-key``.

The filter lives in the URL (``/?filter=done``): its links patch the query without a reload,
``handle_params`` applies it, the back button restores the previous one, and a reload or a
shared link shows the same filter. Each browser has its own list (found again through the token
cookie on reload).  Run: ``uvicorn examples.todo.app:app``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from examples.assets import asset_routes
from livetemplate import ActionContext, Application, PageLookupError, ValidationError

TEMPLATES = Path(__file__).parent / "templates"
FILTERS = ("all", "active", "done")
MAX_TITLE = 200


class TodoList:
    def __init__(self) -> None:
        self.todos: list[dict[str, Any]] = []
        self.filters = FILTERS
        self.filter = "all"
        self.visible: list[dict[str, Any]] = []
        self.remaining = 0
        self.done_count = 0
        self._next_id = 1

    def add(self, ctx: ActionContext) -> None:
        title = ctx.get_str("title", "").strip()
        if not title:
            raise ValidationError(title="A todo needs a title.")
        if len(title) > MAX_TITLE:
            raise ValidationError(title=f"Keep it under {MAX_TITLE} characters.")
        self.todos.append({"id": self._next_id, "title": title, "done": False})
        self._next_id += 1
        self._refresh()

    def toggle(self, ctx: ActionContext) -> None:
        todo = self._find(ctx.get_int("id"))
        todo["done"] = not todo["done"]
        self._refresh()

    def delete(self, ctx: ActionContext) -> None:
        todo = self._find(ctx.get_int("id"))
        self.todos.remove(todo)
        self._refresh()

    def handle_params(self, params: QueryParams, ctx: ActionContext) -> None:
        # The URL's ?filter= (a link patched it, the back button restored it, or the page was
        # loaded with it): not an action, so no client can call it with data of its own.
        name = params.get("filter", "all")
        if name not in FILTERS:
            ctx.flash("error", f"There is no filter {name[:40]!r}; showing all.")
            name = "all"
        self.filter = name
        self._refresh()

    def clear_done(self) -> None:
        self.todos = [t for t in self.todos if not t["done"]]
        self._refresh()

    def _find(self, todo_id: int) -> dict[str, Any]:
        for todo in self.todos:
            if todo["id"] == todo_id:
                return todo
        raise ValidationError(id=f"No todo #{todo_id}; it may have been deleted in another tab.")

    def _refresh(self) -> None:
        # Derived values live on the model, so the template only reads what changed.
        self.remaining = sum(1 for t in self.todos if not t["done"])
        self.done_count = len(self.todos) - self.remaining
        if self.filter == "all":
            self.visible = list(self.todos)
        else:
            want_done = self.filter == "done"
            self.visible = [t for t in self.todos if t["done"] == want_done]


live = Application()
live.parse_files(TEMPLATES / "*.html")


async def index(request: Request) -> Response:
    try:
        page = await live.load_page(request)  # any store: in-process or Redis
    except PageLookupError:
        page = live.new_page("todo", TodoList())
    return page.serve_http(request)


app = Starlette(routes=[Route("/", index), *live.routes("/ws"), *asset_routes()])
