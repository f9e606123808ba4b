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
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import jinja2
from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

import lt_engine

from . import collector, protocol
from .collector import COLLECTOR
from .connection import Connection
from .endpoints import NewPage, build_routes
from .errors import (
    ClientError,
    DuplicateTemplateError,
    LiveTemplateError,
    PageNotFound,
    TemplateNotFoundError,
    TokenMissing,
)
from .flash import FlashSigner
from .html import CLIENT_PATH, inject
from .limits import Limits
from .page import Page
from .pages import LivePages
from .records import Live, Sealed
from .redis_store import REDIS_URL_ENV, RedisStore
from .snapshot import Sealer
from .store import MemoryStore, PageRecord, PageStore
from .tokens import SECRET_ENV, TokenSigner, cookie_for, resolve_secret
from .uploads import Uploads

logger = logging.getLogger("livetemplate")

TOKEN_QUERY = "cache_token"
TOKEN_HEADER = "x-livetemplate-token"
TOKEN_COOKIE = "livetemplate_token"

# The applications made in dev mode in this process: what `livetemplate run --reload` watches.
_dev_apps: weakref.WeakSet[Application] = weakref.WeakSet()


def dev_apps() -> list[Application]:
    """The live :class:`Application` objects of this process made in dev mode (``dev=True`` or
    ``$LIVETEMPLATE_DEV``), whose template files ``livetemplate.reload.watch`` follows."""
    return list(_dev_apps)


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
        compiled: str | os.PathLike[str] | None = None,
        dev: bool | None = None,
        tune_gc: bool | None = None,
        track_data: bool = True,
        **env_options: Any,
    ) -> None:
        """``env_options`` go to the jinja2 environment (filters via ``app.env.filters``).

        ``compiled``: a directory written by ``livetemplate compile``, loaded without parsing.
        ``dev`` (default: ``$LIVETEMPLATE_DEV``, set by ``livetemplate run --reload``): stale
        compiled templates are compiled from source instead of refused, and edited templates
        are reloaded into live pages.
        ``tune_gc`` (default: on unless ``$LIVETEMPLATE_TUNE_GC=0``): freeze long-lived objects
        out of the cyclic GC's reach after start-up and as pages and connections are made
        (``livetemplate.collector``).
        ``track_data`` (default on): a page's data and data model are tracked
        (``lt_engine.track``), so an action costs what it changed, not a scan of the page's lists;
        off, pages hold exactly the objects given (docs/api.md, "Tracked page data").
        """
        self.limits = limits or Limits()
        self.track_data = track_data
        self.tune_gc = collector.wanted(tune_gc)
        if store is None:
            url = os.environ.get(REDIS_URL_ENV)
            store = RedisStore(url) if url else MemoryStore(clock)
        self.store = store
        self.cookie_name = cookie_name
        self.client_path = client_path
        # the path of the first app.routes(): where served pages' clients connect
        self.live_url: str | None = None
        self.clock = clock
        if not store.in_process and not secret and not os.environ.get(SECRET_ENV):
            raise LiveTemplateError(
                f"{store!r} shares pages between processes, which must all sign tokens and"
                f" stored pages with the same secret: set ${SECRET_ENV} (the same in every"
                " worker and host) or pass Application(secret=...)"
            )
        resolved = resolve_secret(secret)
        self.tokens = TokenSigner(resolved, self.limits.token_max_age, clock)
        self.flash_signer = FlashSigner(resolved, clock)  # flashes carried across page loads
        self._dirs: list[str] = []
        self.env = lt_engine.Environment(loader=jinja2.FileSystemLoader(self._dirs), **env_options)
        self._files: dict[str, Path] = {}  # template name -> its file
        self._templates: dict[str, lt_engine.Template] = {}
        # The pages live in this process, over the store (records as they are in this
        # process, sealed bytes outside it).
        codec = Live() if store.in_process else Sealed(Sealer(resolved), track_data)
        self.pages = LivePages(self, store, codec, self.template, self.tune_gc)
        self.env.component_templates = self.template  # {{ component(obj) }}: obj.template names one of ours
        self.uploads = Uploads(self.limits)  # files being uploaded to them (livetemplate.uploads)
        self._last_sweep = clock()
        self.dev = dev if dev is not None else os.environ.get("LIVETEMPLATE_DEV", "") not in (
            "", "0", "false", "no")
        if compiled is not None:
            self._load_compiled(compiled)
        if self.dev:
            _dev_apps.add(self)

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

    def _load_compiled(self, path: str | os.PathLike[str]) -> None:
        # Names as parse_files gives them: the path under the source directory sans extension.
        on_stale: Literal["recompile", "error"] = "recompile" if self.dev else "error"
        for key, template in self.env.load_compiled(path, on_stale=on_stale).items():
            name = key.rsplit(".", 1)[0] if "." in key.rsplit("/", 1)[-1] else key
            if name in self._templates:
                raise DuplicateTemplateError(
                    f"two templates in {os.fspath(path)} are named {name!r}; template names are"
                    " paths without extension, so rename one of the source files"
                )
            self._templates[name] = template

    def reload_template(self, name: str) -> int:
        """Compile template ``name`` again from its source file and re-mount its live pages on
        their current data: every connection gets the new full tree, the page keeps its state.

        What dev mode does when a template file changes; returns the number of pages
        re-mounted. Raises what compiling raises (the old template stays in use).
        """
        template = self.env.reload(self.template(name))
        self._templates[name] = template
        remounted = 0
        for page in self.pages.of_template(name):
            try:
                page.remount(template)
            except LiveTemplateError:
                continue  # its data does not render with the new template: logged by the page
            remounted += 1
        return remounted

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
        return inject(self.template(name).render(data or {}), None, self.client_path,
                      self.live_url)

    # --- pages --------------------------------------------------------------------------------

    def new_page(self, name: str, data: Any = None) -> Page:
        """A new live page of template ``name``.

        ``data`` is a mapping of template data, or a data model object (whose public attributes
        are the data and whose public methods are the actions; see ``register_data_model``).
        """
        template = self.template(name)
        self._maybe_sweep()
        self.pages.make_room()
        data, model = page_data(data)
        now = self.clock()
        record = PageRecord(id=secrets.token_urlsafe(18), template=name, data=data, model=model,
                            created=now, last_seen=now)
        page = Page(self, record, template)
        if self.tune_gc:
            COLLECTOR.start()  # the first page: start-up is over
            COLLECTOR.grew()
        # Sealed now (a model the store cannot keep fails here); stored now on the in-process
        # store, behind the caller on any other (see page.flush()).
        page.stored_new()
        self.pages.add(page)
        return page

    def get_page(self, conn: HTTPConnection, template: str | None = None) -> Page:
        """The page whose token the request or WebSocket carries (query, header, WebSocket
        subprotocol, or the cookie ``serve_http`` set for this path).

        With ``template``, only a page of that template is returned. Raises a
        :class:`~livetemplate.PageLookupError` (``TokenMissing``, ``TokenInvalid``,
        ``TokenExpired``, ``PageNotFound``) whose message says why and what to do.
        """
        return _of_template(self.page_for_token(self._token_or_raise(conn)), template)

    def page_for_token(self, token: str, template: str | None = None) -> Page:
        return _of_template(self._page(self.tokens.verify(token)), template)

    async def load_page(self, conn_or_token: HTTPConnection | str,
                        template: str | None = None) -> Page:
        """``get_page`` (given a request or WebSocket) or ``page_for_token`` (given a token) for
        async code; works with every store, and is the only way with a shared one (Redis),
        where it loads the page from the store and brings it up to date."""
        if isinstance(conn_or_token, str):
            token = conn_or_token
        else:
            token = self._token_or_raise(conn_or_token)
        return _of_template(await self.pages.load(self.tokens.verify(token)), template)

    def token_from(self, conn: HTTPConnection, cookie: bool = True) -> str | None:
        """The token ``conn`` carries: ``?cache_token=``, the ``X-LiveTemplate-Token`` header,
        a WebSocket subprotocol ``livetemplate.token.<token>``, or (unless ``cookie=False``) the
        cookie that ``serve_http`` set for this path (``cookie_for``)."""
        token = conn.query_params.get(TOKEN_QUERY) or conn.headers.get(TOKEN_HEADER)
        if not token and conn.scope["type"] == "websocket":
            for offered in conn.scope.get("subprotocols") or ():
                if offered.startswith(protocol.TOKEN_SUBPROTOCOL):
                    token = offered[len(protocol.TOKEN_SUBPROTOCOL):]
                    break
        if not token and cookie:
            token = conn.cookies.get(self.cookie_for(conn.url.path))
        return token or None

    def cookie_for(self, path: str) -> str:
        """The name of the token cookie of the page served at ``path`` (one per path)."""
        return cookie_for(self.cookie_name, path)

    def _token_or_raise(self, conn: HTTPConnection) -> str:
        token = self.token_from(conn)
        if token is None:
            raise TokenMissing(
                f"no page token: expected ?{TOKEN_QUERY}=..., an X-LiveTemplate-Token header or"
                f" the token cookie of {conn.url.path} (set by page.serve_http there); open the"
                " page first"
            )
        return token

    def _page(self, page_id: str) -> Page:
        self._maybe_sweep()
        return self.pages.load_now(page_id)

    @property
    def page_count(self) -> int:
        """Pages live in this process (what ``Limits.max_pages`` bounds), on every store."""
        return len(self.pages)

    def touch(self, page: Page) -> None:
        """The page was used: its time to live (here and in the store) starts again."""
        page.touched()

    def expire_pages(self) -> list[str]:
        """Drop pages idle for ``Limits.page_ttl`` (pages with open connections never are).

        This drops from this process the pages idle here; the store expires their records by
        itself (a time to live), so a store shared by several processes keeps them for the others
        until then.
        """
        self._last_sweep = self.clock()
        return self.pages.expire()

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
            if isinstance(message, protocol.ActionMessage):  # checked as any message is
                message = message.data if message.type == protocol.TYPE_UPLOAD else {
                    protocol.TYPE: message.type, protocol.ACTION: message.action,
                    protocol.DATA: message.data, protocol.TOKEN: message.token,
                    protocol.TARGET: message.target}
            action, data, token, target = protocol.parse_action(message)
            if token is not None:
                page.verify_token(token)
            if action == protocol.UPLOAD_ACTION:
                return self.uploads.announce(page, data, origin)
            return await page.run_action(action, data, origin, target)
        except LiveTemplateError as exc:
            return protocol.error_message(exc.code, exc.message)
        except Exception:
            logger.exception("livetemplate: action failed on page %s", page.template_name)
            return protocol.error_message(
                "action_failed", "the action failed on the server (the server log has the"
                " traceback); the page is unchanged where the action did not change it"
            )
        finally:
            self.uploads.release(page)  # the files its action took, whatever happened

    # --- serving ------------------------------------------------------------------------------

    def routes(self, path: str = "/ws", *, new_page: NewPage | None = None) -> list[BaseRoute]:
        """Ready-made routes: the WebSocket at ``path``, its POST fallback at the same path, and
        the client script at ``client_path``.

        ``new_page(conn)`` (sync or async) makes the page of a connection that carries no token
        (Pattern 1); without it a connection must bring the token of an existing page (Pattern 2).

        The first call's ``path`` is ``app.live_url``: the client script added to served pages
        connects there (``data-lvt-url``). Mounted under a prefix, or with several endpoints, set
        ``app.live_url`` to the full path, or put your own ``<script>`` tag in the template.
        """
        if self.live_url is None:
            self.live_url = path
        return build_routes(self, path, new_page)

    async def close(self) -> None:
        """Stop what the pages' store runs in this process (Redis: its listener and
        connections; the registry's expiry task); remove the temporary files of unfinished
        uploads. Call it at shutdown (e.g. a Starlette ``on_shutdown`` handler) for a clean
        exit."""
        self.uploads.close()
        await self.pages.close()


def _of_template(page: Page, template: str | None) -> Page:
    if template is not None and page.template_name != template:
        raise PageNotFound(
            f"the page of this token is a {page.template_name!r} page, not a {template!r} one;"
            " reload to start a new one"
        )
    return page


def page_data(data: Any) -> tuple[dict[str, Any], Any]:
    """``(data, model)`` of a new page from what ``new_page`` was given: a mapping of template
    data, or a data model object. The one place a page's data enters the page path."""
    if data is None:
        return {}, None
    if not isinstance(data, Mapping):
        return {}, data
    return (data if isinstance(data, dict) else dict(data)), None
