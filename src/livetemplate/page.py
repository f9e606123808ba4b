"""A live page: its record (data, model, errors), its mounted slot tree and its connections.

Every change of a page goes one way, whatever the store (``livetemplate.store``):

    page lock -> store.acquire (loads the stored record when it is newer than this copy)
    -> the action or push -> store.commit (the next version; other processes get a notice)
    -> Mount.update for the minimal diff -> encode once -> every connection

with no ``await`` between the diff and the hand-over, so every connection of a page sees the
same updates in the same order. On the in-process store the store calls complete without
suspending, and the record stored is the page's own (no copy). Another process that serves the
page (a shared store: Redis) hears the notice, and brings its copy up to date the same way
(``refresh``: fetch what is newer, re-render, send the diff).

Sync code (``app.new_page``, ``page.update()``, ``serve_http``) cannot await the store: on the
in-process store its store calls run to the end at once, on any other they run behind the
caller, and every async step that could hand the page to another process (``serve_http``'s
response, the endpoints, ``page.flush()``) waits for them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

import lt_engine
from lt_engine import track

from . import components, flash, navigation, protocol
from .actions import (
    ActionContext,
    find_actions,
    is_pending,
    model_data,
    resolve_action,
    start_action,
)
from .connection import Connection
from .errors import (
    ClientError,
    LiveTemplateError,
    PageConflict,
    PageNotFound,
    RenderError,
    ValidationError,
)
from .flash import FlashSigner
from .html import inject
from .limits import Limits
from .records import Codec
from .store import Catchup, PageRecord, PageStore
from .tokens import TokenSigner, cookie_path
from .uploads import UPLOADS_NAME, Uploads

ERRORS_NAME = "errors"  # the template name under which validation errors are shown

logger = logging.getLogger("livetemplate")



class Registry(Protocol):
    """What a page needs of the registry of live pages (``livetemplate.pages.LivePages``)."""

    store: PageStore
    codec: Codec
    worker: str  # this process, as the store's notices name it
    ttl: int  # seconds the store keeps a page after its last use

    def start(self) -> None: ...

    def drop(self, page_id: str) -> Page | None: ...


class Host(Protocol):
    """What a page needs of its application (``livetemplate.Application``)."""

    limits: Limits
    tokens: TokenSigner
    flash_signer: FlashSigner
    track_data: bool
    client_path: str
    live_url: str | None
    clock: Callable[[], float]
    uploads: Uploads

    @property
    def pages(self) -> Registry: ...  # read-only here: the application's is a LivePages

    def cookie_for(self, path: str) -> str: ...


class Stored:
    """What a process knows about the stored copy of one of its pages."""

    __slots__ = ("version", "codec", "fresh", "dirty", "touch", "saving", "refreshing", "again",
                 "used")

    def __init__(self, version: int, codec: Any, used: float) -> None:
        self.version = version  # of the stored record this copy is; 0: not stored yet, -1: stale
        self.codec = codec  # what the codec keeps for the page (livetemplate.records)
        self.fresh: Any = None  # the record of a page not stored yet
        self.dirty = False  # changed by sync code (update) since it was stored
        self.touch = False  # used by sync code (serve_http): start its time to live again
        self.saving: asyncio.Task[None] | None = None  # the write behind, while it runs
        self.refreshing: asyncio.Future[None] | None = None  # catching up after a notice
        self.again = False  # a notice came during a refresh: refresh once more
        self.used = used  # the clock at its last use in this process

    @property
    def pending(self) -> bool:
        """Something sync code did is not stored yet."""
        return self.fresh is not None or self.dirty or self.touch


class PageLock:
    """The lock of one page's changes, in this process (the store's lease covers the others).

    ``asyncio.Lock`` with a way to take it without awaiting when it is free (the common case:
    an action takes it, runs and gives it back with nothing waiting), and a hand-over on release:
    the first waiter owns the lock when it wakes, so nobody takes it in between.
    """

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        # Made when first needed: a worker holds many pages, and each object is one more for
        # the cyclic GC to walk (livetemplate/collector.py).
        self._waiters: deque[asyncio.Future[None]] | None = None

    def locked(self) -> bool:
        return self._held

    def take_now(self) -> bool:
        """Take the lock if it is free and nobody waits; False otherwise."""
        if self._held or self._waiters:
            return False
        self._held = True
        return True

    async def acquire(self) -> None:
        if self.take_now():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = deque()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as this waiter was cancelled: pass it on
            elif self._waiters is not None:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it owns the lock now: still held
                return
        self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class Suspended(Exception):
    """A store call meant to run to its end at once waited instead (for another
    Application's lease on the same in-process store)."""


def run_now(call: Coroutine[Any, Any, Any]) -> Any:
    """Run a call of the in-process store to its end, now, from sync code; its result.

    Raises :class:`Suspended` (the call closed, as if cancelled) when it would wait."""
    try:
        call.send(None)
    except StopIteration as done:
        return done.value
    call.close()
    raise Suspended


class Page:
    def __init__(self, app: Host, record: PageRecord, template: lt_engine.Template,
                 version: int = 0) -> None:
        self.app = app
        self.record = record
        self._take(record.data, record.model)
        self._template = template
        self._connections: list[Connection] = []
        self._lock = PageLock()
        self._stale = False  # a template error left the mount part old, part new
        self._changing = False  # a change runs: what changes the page is stored with it
        self._stored = Stored(version, None, app.clock())
        self._mount = self._remount()

    def __repr__(self) -> str:
        return f"<livetemplate.Page {self.template_name} {self.id}>"

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def template_name(self) -> str:
        return self.record.template

    @property
    def data(self) -> dict[str, Any]:
        return self.record.data

    @property
    def model(self) -> Any:
        return self.record.model

    @property
    def errors(self) -> dict[str, str]:
        return self.record.errors

    @property
    def connections(self) -> int:
        return len(self._connections)

    # --- tokens -----------------------------------------------------------------------------

    def get_token(self) -> str:
        """A freshly signed token for this page (valid for ``Limits.token_max_age``)."""
        return self.app.tokens.sign(self.id)

    @property
    def token(self) -> str:
        return self.get_token()

    def verify_token(self, token: str) -> None:
        """Raise a :class:`~livetemplate.PageLookupError` unless ``token`` is valid for this page."""
        self.app.tokens.verify(token, self.id)

    # --- data model ---------------------------------------------------------------------------

    def register_data_model(self, model: Any) -> None:
        """Use ``model``'s public attributes as template data and its public methods as actions."""
        if model is None or isinstance(model, (Mapping, str, bytes, int, float, list, tuple)):
            raise TypeError(
                "a data model is an object whose public methods are actions; pass plain data"
                " to app.new_page(name, data) instead"
            )
        self.app.pages.codec.check(model)  # a model the store cannot keep fails here
        self._take(self.record.data, model)
        self.update()

    @property
    def actions(self) -> list[str]:
        return sorted(find_actions(self.model)) if self.model is not None else []

    # --- rendering ----------------------------------------------------------------------------

    @property
    def tree(self) -> dict[str, Any]:
        """The full tree, statics included: what a (re)connecting client gets first."""
        return self._mount.tree

    def html(self) -> str:
        return self._mount.html()

    def tree_message(self) -> dict[str, Any]:
        """``{"tree": full tree, "meta": {...}}``: the first message of every connection."""
        return protocol.tree_message(self._mount.tree, {"errors": dict(self.errors)})

    def serve_http(self, request: Request, data: Mapping[str, Any] | None = None) -> HTMLResponse:
        """The page's HTML with its token ``<meta>`` (and the client ``<script>`` if missing).

        Also sets the token cookie, so a WebSocket or a later ``GET`` from the same browser finds
        this page through ``app.get_page``. ``data``, when given, is applied first (as ``update``).
        """
        if data is not None:
            self.update(data)
        carried_flash = navigation.enter(self, request)  # handle_params, the carried flash
        app = self.app
        token = self.get_token()
        html = inject(self._mount.html(), token, app.client_path, app.live_url)
        try:
            body = html.encode()
        except UnicodeEncodeError:  # a lone surrogate in the data: see protocol.utf8_safe
            body = protocol.utf8_safe(html).encode()
        self.touched()
        if not self._stored.pending:
            response = HTMLResponse(body)
        else:  # sent once the page is stored, so every worker can find it by this token
            response = StoredHTMLResponse(body)
            response.page = self
        # The body embeds a token: keep it out of shared caches.
        response.headers["Cache-Control"] = "no-store"
        path = request.url.path
        response.set_cookie(
            app.cookie_for(path), token, max_age=int(app.limits.token_max_age),
            path=cookie_path(path),
            httponly=True, samesite="lax", secure=request.url.scheme == "https",
        )
        if carried_flash:  # shown now: once
            response.delete_cookie(flash.COOKIE, path="/")
        return response

    # --- changes ----------------------------------------------------------------------------

    def update(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> dict[str, Any]:
        """Apply new values (if any), send the minimal update to every connection, return it.

        Call it after changing the data or the model outside an action (a background task,
        another page's action); it sends nothing when nothing visible changed.
        """
        self._assign(data)
        self._assign(values)
        diff = self._rerender()
        if diff:
            self._broadcast(protocol.tree_message(diff, {}), None)
        if not self._changing:  # else stored with the running change
            self._stored.dirty = True
            self._write_behind()
        return diff

    def render_local(self) -> dict[str, Any]:
        """Send the connections in this process the diff of what changed outside the page's
        data — its uploads' state, kept in this process only — and return it; nothing is
        stored (``update`` would store the page again on a shared store)."""
        diff = self._rerender()
        if diff:
            self._broadcast(protocol.tree_message(diff, {}), None)
        return diff

    async def push(self, data: Mapping[str, Any] | None = None, /, **values: Any) -> dict[str, Any]:
        """Assign values and send the update, as a change of the page: under the page's lock,
        to its newest stored state, stored (other processes serving the page get it too).

        While a change of the page runs (inside an action, or from any task meanwhile) it is
        ``update``: the values are stored with that change. Then a yield, so the connections'
        writers send it.
        """
        if self._changing:
            diff = self.update(data, **values)
        else:
            diff = (await self._change(None, None, (data, values), True))[protocol.TREE]
        await asyncio.sleep(0)
        return diff

    def push_event(self, name: str, payload: Any = None) -> None:
        """Send the server event ``name`` with ``payload`` (JSON data) to every client of this
        page connected to this process; their hooks receive it (``handleEvent``)."""
        text = protocol.dumps(protocol.events_message([protocol.event(name, payload)]))
        for connection in list(self._connections):
            connection.deliver(text)

    async def run_action(self, action: str, data: Mapping[str, Any],
                         origin: Connection | None = None,
                         target: str | None = None, *,
                         call: Callable[..., Any] | None = None) -> dict[str, Any]:
        """Run one action and send the update; returns ``{"tree": update, "meta": {...}}``.

        ``origin`` gets the reply, ``meta`` included (e.g. that a form was accepted, even when
        the tree is unchanged: ``{}``); every other connection gets a changed tree only.
        ``target`` names a component of the page (``livetemplate.components``): the action is
        its, and only it is re-evaluated.
        ``call(model, ctx)``, when given, runs instead of the model's method ``action`` (the
        framework's own steps that run as actions: ``navigation``'s URL changes).
        """
        model = self.model if target is None else components.resolve(self._mount, target)
        func = call or resolve_action(model, action)
        if func is None:
            actions = self.actions if target is None else sorted(find_actions(model))
            known = ", ".join(actions) or "none: register a data model with public methods"
            owner = f"page {self.template_name!r}" if target is None else f"component {target!r}"
            raise ClientError(
                "unknown_action",
                f"{owner} has no action {action!r}; its actions: {known}",
            )
        if target is not None and not self.app.pages.store.in_process:
            raise ClientError("bad_message", "component actions need the in-process page store")
        return await self._change(origin, (func, ActionContext(self, action, data)), None, False,
                                  None if target is None else model)

    async def _change(self, origin: Connection | None,
                      action: tuple[Callable[..., Any], ActionContext] | None,
                      values: tuple[Mapping[str, Any] | None, Mapping[str, Any]] | None,
                      local: bool, component: Any = None) -> dict[str, Any]:
        """The one change path: run the action (``(func, ctx)``; or assign ``values``) on the newest
        stored record under the page's lock; store it, diff, send; returns the reply.

        ``local`` (a push): the page may hold changes made in place outside an action (a model
        mutated before ``push``); they are kept if nobody changed the page since, else refused.
        ``component``: the action is this component's (``livetemplate.components``), and only
        it is re-evaluated.
        """
        pages = self.app.pages
        store = pages.store
        state = self._stored
        record = self.record
        lock = self._lock
        if not lock.take_now():
            await lock.acquire()
        try:
            if state.fresh is not None or state.dirty or state.touch:  # (state.pending)
                await self._save_pending()
            codec = pages.codec
            unsaved = local and codec.unsaved(record, state.codec)
            lease, version, newer = await store.acquire(record.id, state.version)
            if newer is not None and unsaved:
                await _release(store, record.id, lease, version, pages.ttl)
                await self._reload()
                raise _lost_in_place()
            failed: BaseException | None = None
            meta: dict[str, Any] = {}
            try:
                if newer is not None:
                    self._load(version, newer)  # the mount catches up with the diff below
                # From here to the record's update, whatever changes the page (this action,
                # an update() or push() from any task) is stored with this change.
                self._changing = True
                try:
                    if action is not None:
                        func, ctx = action
                        model = record.model if component is None else component
                        try:
                            result = start_action(func, model, ctx)
                            if is_pending(result):  # Limits.action_timeout
                                result = await self._await_action(result, ctx.action)
                            errors = ctx.errors
                        except ValidationError as exc:
                            result, errors = None, {**ctx.errors, **exc.errors}
                        if component is None:
                            meta = self._outcome(ctx, result, errors)
                        else:
                            meta = components.outcome(component, ctx, result, errors)
                    elif values is not None:
                        self._assign(values[0])
                        self._assign(values[1])
                except BaseException as exc:  # a cancelled action too: keep what it changed,
                    failed = exc  # stored and sent
                try:
                    update, state.codec = codec.update(record, state.codec)
                finally:
                    self._changing = False
                state.version = await store.commit(record.id, lease, version, update, pages.ttl,
                                                   pages.worker)
            except BaseException:
                state.version = -1  # this copy is not the stored one: reload it next time
                await _release(store, record.id, lease, version, pages.ttl)
                raise
            state.dirty = False
            state.used = self.app.clock()
            try:
                if component is None or failed is not None:
                    diff = self._rerender()
                else:  # a component's action: only it is re-evaluated
                    diff = components.update(self._mount, component)
            except RenderError:
                if failed is None:
                    raise
                diff = {}  # logged; the action's own error is the one to report
            if failed is not None:  # what changed goes to every connection, and the origin
                if diff:  # hears of the failure from the error reply only
                    self._broadcast({protocol.TREE: diff, protocol.META: {}}, None)
                raise failed
            reply = {protocol.TREE: diff, protocol.META: meta}
            self._broadcast(reply, origin)
        finally:
            lock.release()
        return reply

    def _outcome(self, ctx: ActionContext, result: Any, errors: Mapping[str, str]) -> dict[str, Any]:
        """After an action: the values it returned assigned, its errors kept for the template;
        returns the reply's ``meta``."""
        if result is not None and isinstance(result, Mapping):
            self._assign(result)
        self.record.errors = errors = dict(errors)
        flash.settle(self.record.data, ctx.flashes)
        meta = {"action": ctx.action, "success": not errors, "errors": dict(errors)}
        navigation.outcome_meta(ctx, meta)
        if ctx.events:
            meta[protocol.EVENTS] = ctx.events
        return meta

    async def _await_action(self, pending: Any, action: str) -> Any:
        """Await an async action, cancelled after ``Limits.action_timeout`` seconds.

        Only async actions can be timed out: a sync action that blocks holds the event loop.
        """
        timeout = self.app.limits.action_timeout
        if timeout is None:
            return await pending
        try:
            return await _within(pending, timeout)
        except _Expired:
            logger.warning("livetemplate: action %r on page %s cancelled after %g s"
                           " (Limits.action_timeout)", action, self.template_name, timeout)
            raise ClientError(
                "action_timeout",
                f"action {action!r} did not finish within {timeout:g} s and was cancelled; the"
                " page shows what it changed before (Limits.action_timeout)",
            ) from None

    def _rerender(self) -> dict[str, Any]:
        """``Mount.update`` to the current data, or a full re-mount after a template error.

        The engine advances a mount slot by slot: a filter that raises half-way leaves it part
        old, part new, and later diffs would miss what it skipped. Such a mount is never diffed
        again: the page mounts its data afresh (now, or at its next change while the data still
        fails) and sends the whole tree, which clients merge as an update replacing every slot.
        Until then connected clients keep their last good tree and new ones get the stale one.
        """
        failure: Exception | None = None
        if not self._stale:
            try:
                return self._mount.update(self._view())
            except Exception as exc:
                self._stale = True
                failure = exc
        mount = self._remount()  # raises RenderError (and logs) while the data still fails
        if failure is not None:
            logger.warning("livetemplate: template %r failed to update, but renders when mounted"
                           " afresh; sent the whole tree", self.template_name, exc_info=failure)
        return mount.tree

    def _remount(self) -> lt_engine.Mount:
        try:
            mount = self._template.mount(self._view())
        except Exception as exc:
            self._stale = True
            logger.exception("livetemplate: template %r failed to render", self.template_name)
            raise RenderError(
                f"template {self.template_name!r} raised {type(exc).__name__} while rendering"
                " the page's data (the server log has the traceback); the page keeps its last"
                " good view until its data renders again"
            ) from exc
        self._mount = mount
        self._stale = False
        return mount

    def remount(self, template: lt_engine.Template) -> None:
        """Mount ``template`` (a new version of this page's template) on the page's current data
        and send every connection the full tree, which replaces theirs (dev-mode reload)."""
        self._template = template
        self._remount()  # raises RenderError when the data does not render with the new template
        if self._connections:
            text = protocol.dumps(self.tree_message())
            for connection in list(self._connections):
                connection.deliver(text)

    # --- connections --------------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        """Send the full tree to ``connection``, then every later update of this page."""
        connection.deliver(protocol.dumps(self.tree_message()))
        self._connections.append(connection)

    def detach(self, connection: Connection) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
            self._stored.used = self.app.clock()
            if not self._connections:
                pages = self.app.pages
                pages.store.unsubscribe(self.id, pages.worker)

    async def connect(self, connection: Connection) -> None:
        """``attach`` for async code: first stores what is not stored yet, subscribes to the
        page's notices (changes made by other processes) and catches up with the store."""
        pages = self.app.pages
        pages.start()
        await self.flush()
        # Subscribed before the catch-up, so no change falls between the two.
        await pages.store.subscribe(self.id, pages.worker, pages.ttl)
        await self.refresh()
        self.attach(connection)

    async def flush(self) -> None:
        """Wait until what sync code did to the page (``new_page``, ``update``) is stored.

        Raises what went wrong (``StoreUnavailable``, ``PageConflict``); on the in-process store
        it was stored at once.
        """
        state = self._stored
        while True:
            task = state.saving
            if task is not None and not task.done():
                await asyncio.shield(task)
            elif state.pending:
                async with self._lock:
                    await self._save_pending()
            else:
                return

    async def refresh(self) -> None:
        """Bring the page up to date with the store and send the diff to its connections."""
        if self._lock.locked():
            return  # a change runs: it loads the newest record itself, and notices follow
        pages = self.app.pages
        async with self._lock:
            await self._save_pending()
            got = await pages.store.fetch(self.id, self._stored.version, pages.ttl)
            if got is None:
                self._lost()
                raise PageNotFound("the page has expired (or the page store lost it); reload to"
                                   " start a new one")
            version, catchup = got
            if catchup is not None and version != self._stored.version:
                try:
                    self._apply(version, catchup)
                except PageConflict:  # the deltas did not fit this copy: take the whole record
                    self._stored.version = -1
                    await self._reload()

    # --- what sync code did, stored ---------------------------------------------------------

    def stored_new(self) -> None:
        """A page made by ``new_page``: sealed now (a model the store cannot keep fails here),
        stored now on the in-process store, behind the caller on any other."""
        state = self._stored
        state.fresh, state.codec = self.app.pages.codec.first(self.record, state.codec)
        self._write_behind()

    def touched(self) -> None:
        """Used by sync code (``serve_http``): the store's time to live starts again."""
        state = self._stored
        state.touch = True
        state.used = self.app.clock()
        self._write_behind()

    def _write_behind(self) -> None:
        state = self._stored
        if state.saving is not None and not state.saving.done():
            return  # the running write loops until nothing is left
        if self.app.pages.store.in_process and not self._lock.locked():
            try:
                run_now(self._save_pending())
                return
            except Suspended:
                pass  # another Application holds the page's lease: store it behind
            except LiveTemplateError as exc:  # kept pending: the next flush raises it
                logger.warning("livetemplate: a page change was not stored: %s", exc.message)
                return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop: the next async step (flush) writes it
        state.saving = loop.create_task(self._save_behind())
        state.saving.add_done_callback(_log_failed_write)

    async def _save_behind(self) -> None:
        async with self._lock:
            await self._save_pending()

    async def _save_pending(self) -> None:
        """Store what sync code did (the caller holds the page's lock)."""
        state = self._stored
        pages = self.app.pages
        store, ttl, codec = pages.store, pages.ttl, pages.codec
        while True:
            if state.fresh is not None:
                if state.dirty:
                    state.fresh, state.codec = codec.first(self.record, state.codec)
                    state.dirty = False
                await store.create(self.id, state.fresh, ttl)
                state.fresh, state.version, state.touch = None, 1, False
            elif state.dirty:
                state.dirty = False
                try:
                    lease, version, newer = await store.acquire(self.id, state.version)
                except BaseException:
                    state.dirty = True
                    raise
                if newer is not None:
                    await _release(store, self.id, lease, version, ttl)
                    await self._reload()
                    raise _lost_in_place()
                try:
                    update, state.codec = codec.update(self.record, state.codec)
                    state.version = await store.commit(self.id, lease, version, update, ttl,
                                                       pages.worker)
                except BaseException:
                    state.version = -1  # reload it next time
                    await _release(store, self.id, lease, version, ttl)
                    raise
                state.touch = False
            elif state.touch:
                state.touch = False
                await store.touch([self.id], ttl)
            else:
                return

    # --- records of other processes' changes --------------------------------------------------

    def _load(self, version: int, catchup: Catchup, fresh: bool = False) -> None:
        """Bring the page's record to the stored ``version`` (the mount is left as it was).

        ``fresh``: the page was just made from ``catchup.base`` (only the deltas are left)."""
        state = self._stored
        state.codec = self.app.pages.codec.load(self.id, catchup, self, state.codec, fresh)
        state.version = version

    async def _reload(self) -> None:
        """Take the whole stored record (the caller holds the page's lock), send the diff."""
        pages = self.app.pages
        got = await pages.store.fetch(self.id, -1, pages.ttl)
        if got is None:
            self._lost()
            raise PageNotFound("the page has expired (or the page store lost it); reload to"
                               " start a new one")
        version, catchup = got
        if catchup is not None:
            self._apply(version, catchup)

    def _apply(self, version: int, catchup: Catchup) -> None:
        """``_load``, then send the diff to the page's connections."""
        self._load(version, catchup)
        diff = self._rerender()
        if diff:
            self._broadcast({protocol.TREE: diff, protocol.META: {}}, None)

    def _lost(self) -> None:
        """The store no longer has the page: close its connections, forget it here."""
        self.app.pages.drop(self.id)
        message = "the page has expired (or the page store lost it); reload"
        for connection in list(self._connections):
            close = getattr(connection, "close", None)
            if close is not None:
                close(protocol.close_code("page_not_found") or 1008, message, "page_not_found")
            else:
                connection.deliver(protocol.dumps(protocol.error_message("page_not_found",
                                                                         message)))

    def idle(self, idle_since: float) -> bool:
        """Unused here since ``idle_since``, no connection, nothing left to store or running."""
        state = self._stored
        return (not self._connections and state.used < idle_since and not state.pending
                and not self._lock.locked()
                and (state.saving is None or state.saving.done()))

    def _broadcast(self, message: dict[str, Any], origin: Connection | None) -> None:
        """``message`` to ``origin``; its tree, if changed, to every other connection.

        An action's ``meta`` (its name, success, errors) answers the connection that sent it:
        another tab must not take it for the reply to an action of its own.
        """
        connections = self._connections
        if origin is not None and origin not in connections:
            origin = None
        if not message[protocol.TREE]:
            if origin is not None:
                origin.deliver(protocol.dumps(message))
            return
        text = protocol.dumps(message)
        others = text
        if origin is not None and message[protocol.META] and len(connections) > 1:
            others = protocol.dumps({protocol.TREE: message[protocol.TREE], protocol.META: {}})
        for connection in list(connections):
            connection.deliver(text if connection is origin else others)

    # --- data ---------------------------------------------------------------------------------

    def _take(self, data: dict[str, Any], model: Any) -> None:
        """The one place a page's data and data model enter it: made (``new_page``), rebuilt or
        loaded from a store, or registered (``register_data_model``).

        Tracked by default (``Application(track_data=...)``): the data becomes a TrackedDict of
        tracked values, and the model is tracked in place (its class reports attribute
        assignment; values assigned to it, in actions too, are tracked as they land)."""
        record = self.record
        if self.app.track_data:
            # The dict itself stays the caller's (the engine re-reads top-level names anyway);
            # its values become tracked, in place.
            for name, value in data.items():
                tracked = track(value)
                if tracked is not value:
                    data[name] = tracked
            if not isinstance(model, dict):
                model = track(model)
        record.data = data
        record.model = model

    def _view(self) -> dict[str, Any]:
        view = dict(self.record.data)
        view.update(model_data(self.record.model))
        view[ERRORS_NAME] = self.record.errors
        uploads = self.app.uploads.view(self)
        if uploads is not None:  # the model declares uploads: their entries and errors
            view[UPLOADS_NAME] = uploads
        view[flash.FLASH] = flash.view(self.record.data)
        return view

    def _assign(self, values: Mapping[str, Any] | None) -> None:
        # New values land on the model when it has that attribute, else in the page's data.
        if not values:
            return
        model = self.record.model
        for name, value in values.items():
            if (model is not None and not name.startswith("_") and hasattr(model, name)
                    and not callable(getattr(model, name))):
                setattr(model, name, value)
            else:
                self.record.data[name] = track(value) if self.app.track_data else value


class StoredHTMLResponse(HTMLResponse):
    """``serve_http``'s response on a shared store: waits for the page to be stored first, so
    the browser never holds a token another worker cannot find yet."""

    page: Page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.page.flush()
        except LiveTemplateError as exc:
            logger.warning("livetemplate: page %s not served: %s", self.page.id, exc.message)
            response: Response = Response(
                exc.message, status_code=protocol.http_status(exc.code), media_type="text/plain")
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class _Expired(Exception):
    """The action timeout ran out (not a ``TimeoutError`` the action raised itself)."""


class _OwnTimeout(Exception):
    """A ``TimeoutError`` the action raised itself (``__cause__``), told apart on Python 3.10."""


async def _own_timeouts(awaitable: Any) -> Any:
    try:
        return await awaitable
    except asyncio.TimeoutError as exc:
        raise _OwnTimeout from exc


async def _within(awaitable: Any, seconds: float) -> Any:
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # Python 3.10: a task of its own
        try:
            return await asyncio.wait_for(_own_timeouts(awaitable), seconds)
        except asyncio.TimeoutError:
            raise _Expired from None
        except _OwnTimeout as exc:
            raise exc.__cause__ from None  # type: ignore[misc]
    scope = timeout(seconds)
    try:
        async with scope:
            return await awaitable
    except TimeoutError:
        if scope.expired():
            raise _Expired from None
        raise


async def _release(store: PageStore, page_id: str, lease: str, version: int, ttl: int) -> None:
    try:
        await store.commit(page_id, lease, version, None, ttl, "")
    except LiveTemplateError:  # the lease runs out by itself
        pass


def _lost_in_place() -> PageConflict:
    logger.warning("livetemplate: a change made in place outside an action was discarded:"
                   " another worker changed the page first")
    return PageConflict(
        "the page was changed by another worker since this process loaded it, so a change made"
        " in place (followed by page.update() or page.push()) was discarded; change shared pages"
        " in actions or with `await page.push(name=value)`"
    )


def _log_failed_write(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:  # the next flush tries again and raises it to its caller
        logger.warning("livetemplate: a page change was not stored yet: %s",
                       getattr(exc, "message", exc))
