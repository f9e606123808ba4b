"""The Application: templates, pages, tokens and the routes that serve them.

>>> app = Application(secret="s3cret")
>>> app.add_template("counter", '<span id="count">{{ count }}</span>')
>>> page = app.new_page("counter", {"count": 1})
>>> page.html()
'<span id="count">1</span>'
"""

from __future__ import annotations

import glob
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

import lt_engine

from . import protocol
from .connection import Connection
from .errors import (
    ClientError,
    DuplicateTemplateError,
    LiveTemplateError,
    PageLimitError,
    PageNotFound,
    TemplateNotFoundError,
    TokenMissing,
)
from .html import CLIENT_PATH, inject
from .limits import Limits
from .page import Page
from .store import MemoryStore, PageRecord, PageStore
from .tokens import TokenSigner, resolve_secret

logger = logging.getLogger("livetemplate")

TOKEN_QUERY = "cache_token"
TOKEN_HEADER = "x-livetemplate-token"
TOKEN_COOKIE = "livetemplate_token"

NewPage = Callable[[HTTPConnection], "Page | Any"]


class Application:
    def __init__(
        self,
        secret: str | bytes | None = None,
        store: PageStore | None = None,
        *,
        limits: Limits | None = None,
        cookie_name: str = TOKEN_COOKIE,
        client_path: str = CLIENT_PATH,
        clock: Callable[[], float] = time.time,
        **env_options: Any,
    ) -> None:
        """``env_options`` go to the jinja2 environment (filters via ``app.env.filters``)."""
        self.limits = limits or Limits()
        self.store = store if store is not None else MemoryStore()
        self.cookie_name = cookie_name
        self.client_path = client_path
        self.clock = clock
        self.tokens = TokenSigner(resolve_secret(secret), self.limits.token_max_age, clock)
        self._dirs: list[str] = []
        self.env = lt_engine.Environment(loader=jinja2.FileSystemLoader(self._dirs), **env_options)
        self._files: dict[str, Path] = {}  # template name -> its file
        self._templates: dict[str, lt_engine.Template] = {}
        self._live: dict[str, Page] = {}
        self._last_sweep = clock()

    # --- templates ----------------------------------------------------------------------------

    def parse_files(self, *patterns: str | os.PathLike[str]) -> list[str]:
        """Register template files (paths or globs); the name is the file name sans extension.

        Files are compiled now, so a template that cannot be made live fails at start-up with
        ``file:line`` (:class:`lt_engine.CompileError`). Returns the names registered.
        """
        files: list[Path] = []
        for pattern in patterns:
            text = os.fspath(pattern)
            if glob.has_magic(text):
                matches = sorted(glob.glob(text, recursive=True))
                if not matches:
                    raise TemplateNotFoundError(
                        f"no template file matches {text!r} (relative paths start at"
                        f" {os.getcwd()}); check the pattern, or build it from __file__"
                    )
                files.extend(Path(m) for m in matches if os.path.isfile(m))
            elif not os.path.isfile(text):
                raise TemplateNotFoundError(
                    f"template file {text!r} does not exist (relative paths start at"
                    f" {os.getcwd()}); check the path, or build it from __file__"
                )
            else:
                files.append(Path(text))
        seen: dict[str, Path] = {}
        for path in files:
            name = path.stem
            resolved = path.resolve()
            if name in self._templates and name not in self._files:
                raise DuplicateTemplateError(
                    f"a template named {name!r} was added with add_template; rename {path}"
                )
            other = seen.get(name) or self._files.get(name)
            if other is not None and other != resolved:
                raise DuplicateTemplateError(
                    f"two templates are named {name!r}: {other} and {resolved}; template names"
                    " are file names without extension, so rename one of the files"
                )
            seen[name] = resolved
        for name, path in seen.items():
            folder = str(path.parent)
            if folder not in self._dirs:
                # The loader's search path, so {% include %} / {% extends %} find their files.
                self._dirs.append(folder)
                self.env.jinja.loader = jinja2.FileSystemLoader(self._dirs)
            self._files[name] = path
            self._templates[name] = self.env.get_template(path.name)
        return list(seen)

    def add_template(self, name: str, source: str) -> None:
        """Register a template from a string (tests, one-file apps)."""
        if name in self._files:
            raise DuplicateTemplateError(
                f"a template named {name!r} is already registered from {self._files[name]}"
            )
        self._templates[name] = self.env.from_string(source, name=name)

    @property
    def template_names(self) -> list[str]:
        return sorted(self._templates)

    def template(self, name: str) -> lt_engine.Template:
        try:
            return self._templates[name]
        except KeyError:
            known = ", ".join(self.template_names) or "none yet"
            raise TemplateNotFoundError(
                f"no template named {name!r} (registered: {known}); call"
                " app.parse_files('templates/*.html') first"
            ) from None

    def render(self, name: str, data: Mapping[str, Any] | None = None) -> str:
        """HTML of a template with the client script added, without making a page (Pattern 1)."""
        return inject(self.template(name).render(data or {}), None, self.client_path)

    # --- pages --------------------------------------------------------------------------------

    def new_page(self, name: str, data: Any = None) -> Page:
        """A new live page of template ``name``.

        ``data`` is a mapping of template data, or a data model object (whose public attributes
        are the data and whose public methods are the actions; see ``register_data_model``).
        """
        template = self.template(name)
        self._maybe_sweep()
        if len(self.store) >= self.limits.max_pages:
            self.expire_pages()
            if len(self.store) >= self.limits.max_pages:
                raise PageLimitError(
                    f"{len(self.store)} live pages: the limit (Limits.max_pages) is reached; try"
                    " again later, or raise max_pages / lower page_ttl"
                )
        model = None
        if data is None:
            data = {}
        elif not isinstance(data, Mapping):
            model, data = data, {}
        elif not isinstance(data, dict):
            data = dict(data)
        now = self.clock()
        record = PageRecord(id=secrets.token_urlsafe(18), template=name, data=data, model=model,
                            created=now, last_seen=now)
        page = Page(self, record, template)
        self.store.put(record)
        self._live[record.id] = page
        return page

    def get_page(self, conn: HTTPConnection) -> Page:
        """The page whose token the request or WebSocket carries (query, header, or cookie).

        Raises a :class:`~livetemplate.PageLookupError` (``TokenMissing``, ``TokenInvalid``,
        ``TokenExpired``, ``PageNotFound``) whose message says why and what to do.
        """
        token = self.token_from(conn)
        if token is None:
            raise TokenMissing(
                f"no page token: expected ?{TOKEN_QUERY}=..., an X-LiveTemplate-Token header or"
                f" the {self.cookie_name} cookie (set by page.serve_http); open the page first"
            )
        return self.page_for_token(token)

    def page_for_token(self, token: str) -> Page:
        return self._page(self.tokens.verify(token))

    def token_from(self, conn: HTTPConnection, cookie: bool = True) -> str | None:
        return (conn.query_params.get(TOKEN_QUERY) or conn.headers.get(TOKEN_HEADER)
                or (conn.cookies.get(self.cookie_name) if cookie else None) or None)

    def _page(self, page_id: str) -> Page:
        self._maybe_sweep()
        page = self._live.get(page_id)
        if page is None:
            record = self.store.get(page_id)
            if record is None:
                raise PageNotFound(
                    "the page of this token has expired or was never created by this server;"
                    " reload to start a new one"
                )
            # Known to the store but not live in this process: rebuild by mounting again.
            page = Page(self, record, self.template(record.template))
            self._live[page_id] = page
        return page

    @property
    def page_count(self) -> int:
        return len(self.store)

    def touch(self, page: Page) -> None:
        self.store.touch(page.id, self.clock())

    def expire_pages(self) -> list[str]:
        """Drop pages idle for ``Limits.page_ttl`` (pages with open connections never are)."""
        now = self.clock()
        self._last_sweep = now
        for page in self._live.values():
            if page.connections:
                self.store.touch(page.id, now)
        expired = self.store.expired(now - self.limits.page_ttl)
        for page_id in expired:
            self.store.delete(page_id)
            self._live.pop(page_id, None)
        if expired:
            logger.debug("livetemplate: %d idle pages expired", len(expired))
        return expired

    def _maybe_sweep(self) -> None:
        # A full sweep walks every page: do it at most every few seconds, not per request.
        if self.clock() - self._last_sweep >= min(self.limits.page_ttl / 4, 30.0):
            self.expire_pages()

    # --- actions ------------------------------------------------------------------------------

    async def handle_action(self, page: Page, message: Any,
                            origin: Connection | None = None) -> dict[str, Any]:
        """Run a client message on ``page``; returns what to send back.

        ``message`` is the raw text/bytes of a frame, a decoded dict or an
        :class:`ActionMessage`. The reply is ``{"tree": update, "meta": {...}}``, or an error
        message ``{"type": "error", ...}`` for bad input (never raised: a hand-written receive
        loop can send whatever comes back). Connections attached to the page also get the
        update; ``origin`` is the attached connection the message came from, if any.
        """
        try:
            if isinstance(message, (str, bytes)) and len(message) > self.limits.max_message_bytes:
                raise ClientError(
                    "too_large",
                    f"message of {len(message)} bytes exceeds the limit of"
                    f" {self.limits.max_message_bytes} (Limits.max_message_bytes)",
                )
            msg = protocol.parse_message(message)
            if msg.token is not None:
                page.verify_token(msg.token)
            self.touch(page)
            return await page.run_action(msg.action, msg.data, origin)
        except LiveTemplateError as exc:
            return protocol.error_message(exc.code, exc.message)
        except Exception:
            logger.exception("livetemplate: action failed on page %s", page.template_name)
            return protocol.error_message(
                "action_failed", "the action failed on the server (the server log has the"
                " traceback); the page is unchanged where the action did not change it"
            )

    # --- serving ------------------------------------------------------------------------------

    def routes(self, path: str = "/ws", *, new_page: NewPage | None = None) -> list[BaseRoute]:
        """Ready-made routes: the WebSocket at ``path``, its POST fallback at the same path, and
        the client script at ``client_path``.

        ``new_page(conn)`` (sync or async) makes the page of a connection that carries no token
        (Pattern 1); without it a connection must bring the token of an existing page (Pattern 2).
        """
        from .endpoints import build_routes

        return build_routes(self, path, new_page)

