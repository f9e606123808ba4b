"""A chat room: one page shared by everyone who opens ``/``, kept live over WebSockets.

Shows the client's interactivity: a hook keeps the message list scrolled to the newest message
(``ScrollDown``), another clears the input when the server says the message was taken (a server
event, ``ctx.push_event``), a client-side command opens and closes the members panel without a
round trip, and the connection classes show a banner while the server is unreachable (messages
written meanwhile wait and are sent on reconnect). Run: ``uvicorn examples.chat.app:app``.

Messages are a stream: the server sends each one to the tabs open at the time and keeps none
(a tab shows the messages sent while it is open, at most ``MAX_MESSAGES``); one room per process.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from examples.assets import asset_routes
from livetemplate import ActionContext, Application, PageLookupError, Stream, ValidationError

TEMPLATES = Path(__file__).parent / "templates"
MAX_MESSAGES = 200


class Room:
    def __init__(self) -> None:
        # streamed: each message is sent to the open tabs and forgotten (a tab keeps its last
        # MAX_MESSAGES); the server holds no messages, however long the room runs
        self.messages = Stream(limit=MAX_MESSAGES)
        self.members: list[str] = []
        self._next_id = 1

    def send(self, ctx: ActionContext) -> None:
        author = ctx.get_str("author", "").strip()[:40] or "anonymous"
        text = ctx.get_str("text", "").strip()
        if not text:
            raise ValidationError(text="Write a message first.")
        if len(text) > 500:
            raise ValidationError(text="Keep messages under 500 characters.")
        self.messages.append({"id": self._next_id, "author": author, "text": text})
        self._next_id += 1
        if author not in self.members:
            self.members.append(author)
        ctx.push_event("sent")  # to the sender only: its Composer hook clears the input


live = Application()
live.parse_files(TEMPLATES / "*.html")
_room: dict[str, str] = {}  # the token of this process's room page


async def index(request: Request) -> Response:
    try:
        page = await live.load_page(_room["token"])
    except (KeyError, PageLookupError):  # no room yet, or it expired: a new one
        page = live.new_page("chat", Room())
    _room["token"] = page.get_token()
    return page.serve_http(request)


app = Starlette(routes=[Route("/", index), *live.routes("/ws"), *asset_routes()])
