"""Pages in Redis: a snapshot, the deltas after it and a lock per page; a channel per page.

Keys (the page id in braces, so one page's keys share a slot on a Redis Cluster)::

    {prefix}page:{<id>}   hash: v = version (1, 2, ...), s = the snapshot's version,
                          b = the sealed snapshot (a whole record); expires (TTL)
    {prefix}log:{<id>}    list: the sealed deltas of versions s+1 ... v, oldest first; expires
    {prefix}lock:{<id>}   the holder of the page's lock, with a lease (PX)
    {prefix}subs:{<id>}   set: the processes that subscribed to the page's channel; expires
    {prefix}chan:<id>     channel: "<version> <worker>" after every stored change

Each operation is one Lua script, so a check and its write are one atomic step: ``acquire``
checks the version and takes the lock (returning the deltas after the caller's version, or the
snapshot and every delta after it when the caller's copy is older than the snapshot), ``commit``
stores the next version — a delta appended to the log, or a snapshot that replaces the snapshot
and empties the log — only if the page is still at the version the lock was taken at (a lease
that ran out cannot overwrite a newer change), releases the lock and publishes the notice —
unless no other process is subscribed, the common case of a page open in one tab, which saves
every process reading its own notices.

One pub/sub connection per process listens to the channels of the pages this process has
connections to. It is also how the process learns that Redis went away (the connection drops)
and came back (it reconnects, subscribes again, and tells its user to catch up).

``redis`` (redis-py, its asyncio client) is imported when the store is first used, so the
package works without it for in-process apps: ``pip install livetemplate[redis]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import PageBusy, PageConflict, PageNotFound, StoreUnavailable
from .store import Catchup, Notice, PageStore, StoreState, Update

logger = logging.getLogger("livetemplate")

REDIS_URL_ENV = "LIVETEMPLATE_REDIS_URL"

# What a copy at version ARGV[have] needs: nothing (up to date), the deltas after it, or the
# snapshot and every delta after it. KEYS: page, log.
_SINCE = """
local function since(have)
  local v = tonumber(redis.call('HGET', KEYS[1], 'v'))
  if v == have then return {v} end
  local s = tonumber(redis.call('HGET', KEYS[1], 's'))
  if have >= s and have < v then
    return {v, '', redis.call('LRANGE', KEYS[2], have - s, -1)}
  end
  return {v, redis.call('HGET', KEYS[1], 'b'), redis.call('LRANGE', KEYS[2], 0, -1)}
end
"""

_FETCH = _SINCE + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return since(tonumber(ARGV[1]))
"""

# Takes the lock, or renews it when ARGV[1] holds it already (a lease this process kept).
_ACQUIRE = _SINCE + """
if redis.call('EXISTS', KEYS[1]) == 0 then return {0} end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[1] then return {1, holder} end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return {2, since(tonumber(ARGV[3]))}
"""

# Returns {version or 0 (gone) or -1 (conflict), 1 if the lock is kept (ARGV[8] ms) else 0}.
_COMMIT = """
local mine = redis.call('GET', KEYS[2]) == ARGV[1]
local keep = 0
local function done()
  if mine then
    if tonumber(ARGV[8]) > 0 then
      redis.call('PEXPIRE', KEYS[2], ARGV[8])
      keep = 1
    else
      redis.call('DEL', KEYS[2])
    end
  end
end
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
  if mine then redis.call('DEL', KEYS[2]) end
  return {0, 0}
end
if ARGV[3] == '' then
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[4], ARGV[5])
  done()
  return {tonumber(v), keep}
end
if v ~= ARGV[2] then
  if mine then redis.call('DEL', KEYS[2]) end
  return {-1, 0}
end
done()
local nv = tonumber(v) + 1
if ARGV[3] == 'f' then
  redis.call('HSET', KEYS[1], 'v', nv, 's', nv, 'b', ARGV[4])
  redis.call('DEL', KEYS[4])
else
  redis.call('HSET', KEYS[1], 'v', nv)
  redis.call('RPUSH', KEYS[4], ARGV[4])
  redis.call('EXPIRE', KEYS[4], ARGV[5])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
if redis.call('SCARD', KEYS[3]) > redis.call('SISMEMBER', KEYS[3], ARGV[7]) then
  redis.call('PUBLISH', ARGV[6], nv .. ' ' .. ARGV[7])
end
return {nv, keep}
"""

# Gives back a kept lock, or renews it for an action that runs long (ARGV[2] ms; 0: give back).
_LEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return redis.call('DEL', KEYS[1])
"""

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'v', 1, 's', 1, 'b', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"""


def _catchup(got: list[Any]) -> tuple[int, Catchup | None]:
    """``(version, catchup)`` from what ``_SINCE`` returned."""
    if len(got) == 1:
        return int(got[0]), None
    return int(got[0]), Catchup(got[1] or None, list(got[2]))


class RedisStore(PageStore):
    """Pages in the Redis at ``url`` (``redis://[:password@]host:port/db``, ``rediss://`` for TLS).

    ``lock_timeout``: seconds a page's lock is held at most (an action that runs longer loses it,
    and its change is refused with ``page_conflict`` if another process changed the page
    meanwhile). ``lock_wait``: seconds an action waits for a page another process is changing.
    ``socket_timeout``: seconds one Redis command may take before the store counts as unreachable.
    ``keep``: seconds a process keeps a page's lock after its change of the page, so that its next
    change needs one round trip instead of two; another process that wants the lock asks for it
    (a message on ``{prefix}workers``) and gets it once the change holding it is stored.
    ``keep_lease``: the lease of a kept lock in Redis (seconds): how long other processes wait
    for it at most if the process keeping it dies. ``keep=0`` gives every lock back at once.
    Other keyword arguments go to ``redis.asyncio.Redis.from_url``.
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "lt:",
                 lock_timeout: float = 30.0, lock_wait: float = 10.0,
                 socket_timeout: float = 5.0, keep: float = 1.0, keep_lease: float = 2.0,
                 **options: Any) -> None:
        self.url = url
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.lock_wait = lock_wait
        self.keep = keep
        self.keep_lease = min(keep_lease, lock_timeout)
        self.asks = f"{prefix}workers"  # where processes ask each other for kept locks
        self.socket_timeout = socket_timeout
        self._options = {"socket_timeout": socket_timeout,
                         "socket_connect_timeout": min(socket_timeout, 2.0), **options}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._redis: Any = None
        self._queue: list[_Queued] = []  # scripts waiting for the next batch
        self._pump: asyncio.Future[None] | None = None  # sends the batches, one at a time
        self._conn: Any = None  # the page path's connection, between batches
        self._refused: type[BaseException] = OSError
        self._kept: dict[str, _Kept] = {}  # page id -> the lock this process keeps
        self._leasing: set[asyncio.Future[Any]] = set()
        self._no_script: type[BaseException] = OSError
        self._broken: type[BaseException] = OSError
        self._timed_out: type[BaseException] = OSError
        self._errors: tuple[type[BaseException], ...] = (OSError,)
        self._unreachable_errors: tuple[type[BaseException], ...] = (OSError,)
        self._listener = _Subscriptions(self)

    def __repr__(self) -> str:
        return f"RedisStore({_safe_url(self.url)!r})"

    # --- records ------------------------------------------------------------------------------

    async def create(self, page_id: str, record: bytes, ttl: int) -> int:
        if not await self._run("create", [self._page(page_id), self._log(page_id)],
                               [record, ttl]):
            raise PageConflict(f"a page with id {page_id} exists already")
        return 1

    async def fetch(self, page_id: str, have: int, ttl: int) -> tuple[int, Catchup | None] | None:
        got = await self._run("fetch", [self._page(page_id), self._log(page_id)], [have, ttl])
        if got is None:
            return None
        return _catchup(got)

    async def acquire(self, page_id: str, have: int) -> tuple[str, int, Catchup | None]:
        loop = asyncio.get_running_loop()
        kept = self._kept.get(page_id)
        if kept is not None and not kept.busy and kept.version == have \
                and loop.time() < kept.until:
            # This process kept the page's lock since its last change here, and nobody can
            # have changed the page meanwhile: no round trip. An action that outlives half the
            # kept lease has it renewed.
            kept.busy = True
            kept.renew = loop.call_later(self.keep_lease / 2, self._renew, page_id, kept.lock)
            return kept.lock, have, None
        # A kept lock that is free is renewed with its own token; one in use (by another
        # Application of this process on this store) is waited for like another process's.
        lock = kept.lock if kept is not None and not kept.busy else secrets.token_hex(8)
        keys = [self._page(page_id), self._log(page_id), self._lock(page_id)]
        args = [lock, max(1, int(self.lock_timeout * 1000)), have]
        delay, waited = 0.001, 0.0
        asked = None
        while True:
            got = await self._run("acquire", keys, args)
            if got[0] == 2:
                version, catchup = _catchup(got[1])
                kept = self._kept.get(page_id)
                if kept is None or kept.lock != lock:
                    self._forget(page_id)
                    kept = self._kept[page_id] = _Kept(lock)
                kept.busy, kept.version = True, version
                return lock, version, catchup
            if got[0] == 0:
                self._forget(page_id)
                raise _gone()
            holder = got[1]
            if holder != asked:  # a lock kept by another process: ask it to give it back
                asked = holder
                await self._ask(page_id, holder)
            if waited >= self.lock_wait:
                raise PageBusy(
                    f"another worker has been changing this page for over {self.lock_wait:g} s"
                    " (RedisStore(lock_wait=...)); try again"
                )
            # Held by another process: poll with a growing delay (most actions take < 1 ms).
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.05)

    async def commit(self, page_id: str, lock: str, version: int, update: Update | None,
                     ttl: int, origin: str) -> int:
        kept = self._kept.get(page_id)
        if kept is not None and kept.lock != lock:
            kept = None
        if kept is not None and kept.renew is not None:
            kept.renew.cancel()
            kept.renew = None
        if update is None and kept is not None and kept.busy and kept.version == version:
            return self._keep(page_id, kept, version)  # nothing to store: the lock stays here
        kind, body = ("", b"") if update is None else ("f" if update.full else "d", update.body)
        # Kept only by a process that hears when another one asks for it (its listener runs).
        hold = max(1, int(self.keep_lease * 1000)) if (
            self.keep > 0 and kept is not None and not kept.wanted
            and self._listener.task is not None) else 0
        try:
            got, held = await self._run(
                "commit", [self._page(page_id), self._lock(page_id), self._subs(page_id),
                           self._log(page_id)],
                [lock, version, kind, body, ttl, self._channel(page_id), origin, hold])
        except BaseException:
            if kept is not None:
                self._forget(page_id)
            raise
        if kept is not None:
            if got > 0 and held:
                self._keep(page_id, kept, got)
            else:
                self._forget(page_id)
        if got == 0:
            raise _gone()
        if got < 0:
            raise PageConflict(
                "the page was changed by another worker while this change ran (it ran longer"
                f" than RedisStore(lock_timeout={self.lock_timeout:g})); it was not applied:"
                " try again"
            )
        return got

    # --- kept locks ---------------------------------------------------------------------------

    def _keep(self, page_id: str, kept: _Kept, version: int) -> int:
        """After a change: keep the page's lock for the next one, for ``keep`` idle seconds."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        kept.busy, kept.version, kept.last = False, version, now
        kept.until = now + self.keep_lease / 2  # well within the lease Redis keeps
        if kept.idle is None:
            kept.idle = loop.call_later(self.keep, self._went_idle, page_id, kept)
        return version

    def _went_idle(self, page_id: str, kept: _Kept) -> None:
        kept.idle = None
        if self._kept.get(page_id) is not kept or kept.busy:
            return  # forgotten, or in use again (its commit arms this again)
        loop = asyncio.get_running_loop()
        left = kept.last + self.keep - loop.time()
        if left > 0:
            kept.idle = loop.call_later(left, self._went_idle, page_id, kept)
            return
        del self._kept[page_id]
        self._lease_soon(page_id, kept.lock, 0)  # give it back

    async def _ask(self, page_id: str, holder: bytes) -> None:
        """Ask every process (the one keeping ``holder``) to give the page's lock back."""
        try:
            await self._client().publish(self.asks, f"{page_id} ".encode() + holder)
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def _asked(self, page_id: str, lock: str) -> None:
        """Another process waits for a lock: given back now, or once the change holding it
        is stored."""
        kept = self._kept.get(page_id)
        if kept is None or kept.lock != lock:
            return
        if kept.busy:
            kept.wanted = True
            return
        self._forget(page_id)
        self._lease_soon(page_id, lock, 0)

    def _renew(self, page_id: str, lock: str) -> None:
        kept = self._kept.get(page_id)
        if kept is not None and kept.lock == lock and kept.busy:
            kept.renew = None
            self._lease_soon(page_id, lock, max(1, int(self.lock_timeout * 1000)))

    def _lease_soon(self, page_id: str, lock: str, ms: int) -> None:
        task = asyncio.ensure_future(self._run("lease", [self._lock(page_id)], [lock, ms]))
        self._leasing.add(task)
        task.add_done_callback(self._leased)

    def _leased(self, task: asyncio.Future[Any]) -> None:
        self._leasing.discard(task)
        if not task.cancelled() and task.exception() is not None:  # the lease runs out anyway
            logger.debug("livetemplate: a page lock was not given back: %s", task.exception())

    def _forget(self, page_id: str) -> None:
        kept = self._kept.pop(page_id, None)
        if kept is not None:
            for handle in (kept.idle, kept.renew):
                if handle is not None:
                    handle.cancel()

    async def touch(self, page_ids: Iterable[str], ttl: int) -> None:
        ids = list(page_ids)
        if not ids:
            return
        client = self._client()
        try:
            async with client.pipeline(transaction=False) as pipe:
                for page_id in ids:
                    pipe.expire(self._page(page_id), ttl)
                    pipe.expire(self._log(page_id), ttl)
                    pipe.expire(self._subs(page_id), ttl)
                await pipe.execute()
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    async def delete(self, page_id: str) -> None:
        self._forget(page_id)
        client = self._client()
        try:
            await client.delete(self._page(page_id), self._log(page_id), self._lock(page_id),
                                self._subs(page_id))
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    # --- notices ------------------------------------------------------------------------------

    def listen(self, worker: str, on_notice: Notice, on_state: StoreState) -> None:
        # One listener per RedisStore object: a process uses its own store object.
        self._client()
        self._listener.start(on_notice, on_state)

    async def subscribe(self, page_id: str, worker: str, ttl: int) -> None:
        client = self._client()
        await self._listener.subscribe(self._channel(page_id))
        # Then join the page's subscribers: from now on commits by others are announced.
        try:
            async with client.pipeline(transaction=False) as pipe:
                pipe.sadd(self._subs(page_id), worker)
                pipe.expire(self._subs(page_id), ttl)
                await pipe.execute()
        except self._errors as exc:
            raise self._unavailable(exc) from exc

    def unsubscribe(self, page_id: str, worker: str) -> None:
        # The process stays in the page's subscribers until the set expires: a member too many
        # costs a notice nobody reads, a member too few (a SREM racing a new SADD) lost notices.
        self._listener.unsubscribe(self._channel(page_id))

    async def close(self) -> None:
        for page_id, kept in list(self._kept.items()):
            self._forget(page_id)
            if self._loop is asyncio.get_running_loop():
                with contextlib.suppress(Exception):
                    await self._run("lease", [self._lock(page_id)], [kept.lock, 0])
        if self._leasing:
            await asyncio.wait(list(self._leasing), timeout=1.0)
        await self._listener.stop()
        conn, self._conn = self._conn, None
        if conn is not None:
            await _disconnect(conn)
        if self._redis is not None and self._loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        self._redis = None
        self._loop = None

    # --- plumbing -----------------------------------------------------------------------------

    def _page(self, page_id: str) -> str:
        return f"{self.prefix}page:{{{page_id}}}"

    def _log(self, page_id: str) -> str:
        return f"{self.prefix}log:{{{page_id}}}"

    def _lock(self, page_id: str) -> str:
        return f"{self.prefix}lock:{{{page_id}}}"

    def _subs(self, page_id: str) -> str:
        return f"{self.prefix}subs:{{{page_id}}}"

    def _channel(self, page_id: str) -> str:
        return f"{self.prefix}chan:{page_id}"

    def page_of(self, channel: str) -> str:
        return channel[len(self.prefix) + 5:]

    def _client(self) -> Any:
        """The client of the running event loop (a client is bound to the loop it was made in)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            try:
                import redis.asyncio as aioredis
                from redis import exceptions
            except ImportError:
                raise ImportError(
                    "RedisStore needs redis-py: pip install 'livetemplate[redis]' (or redis>=5)"
                ) from None
            self._listener.reset()
            self._loop = loop
            # Any Redis error ends the operation: unreachable, or refusing (out of memory,
            # a read-only replica, ...); nothing was stored either way.
            self._errors = (exceptions.RedisError, OSError)
            self._unreachable_errors = (exceptions.ConnectionError, exceptions.TimeoutError,
                                        OSError)
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            # One retry, at once, on a broken connection: a pooled connection that Redis closed
            # (a restart) fails on its next use, before the command reaches Redis.
            options = {"retry": Retry(NoBackoff(), 1, (exceptions.ConnectionError,)),
                       **self._options}
            self._redis = aioredis.Redis.from_url(self.url, **options)
            self._no_script = exceptions.NoScriptError
            self._refused = exceptions.ResponseError
            self._queue, self._pump, self._conn = [], None, None
            self._kept = {}
            self._leasing = set()
            self._broken = exceptions.ConnectionError
            self._timed_out = exceptions.TimeoutError
        return self._redis

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """Run one of the scripts; its reply.

        The page path's scripts do not go through redis-py's command layer (its pool, retries,
        reply callbacks and observability hooks cost about as much CPU as the round trip) but
        through one connection of the store's own, **pipelined**: the scripts asked for while
        a batch is on its way are sent together as the next batch, in one write, and their
        replies read in order. With many pages acting at once, a worker pays one system call
        for many actions instead of one each (the main cost of a round trip on loopback).
        """
        self._client()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((script, keys, args, future))
        if self._pump is None or self._pump.done():
            self._pump = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            await self._send(batch)

    async def _send(self, batch: list[_Queued]) -> None:
        client = self._client()
        reused = self._conn is not None
        conn = self._conn if reused else client.connection_pool.make_connection()
        self._conn = None
        try:
            try:
                replies = await self._exchange(conn, batch)
            except self._broken:
                if not reused:
                    raise
                # A connection Redis closed while it was idle (a restart) fails on its next
                # use, before the scripts ran there: once more, on a new connection.
                await _disconnect(conn)
                conn = client.connection_pool.make_connection()
                replies = await self._exchange(conn, batch)
        except BaseException as exc:
            await _disconnect(conn)  # its state is unknown: never reused
            error = self._unavailable(exc) if isinstance(exc, self._errors) else exc
            for *_, future in batch:
                if not future.done():
                    future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
            return
        self._conn = conn
        for (*_, future), reply in zip(batch, replies, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(reply, BaseException):
                future.set_exception(self._unavailable(reply))
            else:
                future.set_result(reply)

    async def _exchange(self, conn: Any, batch: list[_Queued]) -> list[Any]:
        if _deadline is None or self.socket_timeout is None:  # Python 3.10: a timer per reply
            return await self._exchange_within(conn, batch, None)
        # One timer for the batch (socket_timeout), not one per reply as redis-py would set.
        try:
            async with _deadline(self.socket_timeout):
                return await self._exchange_within(conn, batch, math.inf)
        except TimeoutError:
            raise self._timed_out(f"no reply from Redis within {self.socket_timeout:g} s"
                                  " (RedisStore(socket_timeout=...))") from None

    async def _exchange_within(self, conn: Any, batch: list[_Queued],
                               timeout: float | None) -> list[Any]:
        await conn.send_packed_command(b"".join(
            _pack((b"EVALSHA", _SHAS[script], len(keys), *keys, *args))
            for script, keys, args, _ in batch), False)
        replies: list[Any] = []
        for _ in batch:
            try:
                replies.append(await conn.read_response(timeout=timeout))
            except self._no_script:
                replies.append(_NO_SCRIPT)
            except self._refused as exc:  # this script was refused; the others' replies follow
                replies.append(exc)
        for i, reply in enumerate(replies):
            if reply is _NO_SCRIPT:  # a Redis that restarted forgot the scripts: EVAL loads it
                script, keys, args, _ = batch[i]
                await conn.send_packed_command(_pack((b"EVAL", _SCRIPTS[script], len(keys),
                                                      *keys, *args)), False)
                try:
                    replies[i] = await conn.read_response(timeout=timeout)
                except self._refused as exc:
                    replies[i] = exc
        return replies

    def _unavailable(self, exc: BaseException) -> StoreUnavailable:
        if isinstance(exc, self._unreachable_errors):
            return StoreUnavailable(
                f"the page store is unreachable ({type(exc).__name__}: {exc}); nothing was"
                " changed, try again in a moment"
            )
        logger.error("livetemplate: the page store %s refused a command: %r", self, exc)
        return StoreUnavailable(
            f"the page store refused the change ({type(exc).__name__}: {exc}); nothing was"
            " changed (the server log says more)"
        )


_SCRIPTS = {"fetch": _FETCH, "acquire": _ACQUIRE, "commit": _COMMIT, "create": _CREATE,
            "lease": _LEASE}
_SHAS = {name: hashlib.sha1(source.encode()).hexdigest() for name, source in _SCRIPTS.items()}


_Queued = tuple[str, list[str], list[Any], "asyncio.Future[Any]"]
_deadline = getattr(asyncio, "timeout", None)  # Python 3.11+
_NO_SCRIPT = object()


def _pack(args: tuple[Any, ...]) -> bytes:
    """A command in Redis's protocol (RESP): what redis-py's ``pack_command`` makes, for the
    few types the scripts take (bytes, str, int)."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n" % len(arg))
        parts.append(arg)
        parts.append(b"\r\n")
    return b"".join(parts)


async def _disconnect(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await conn.disconnect()


def _gone() -> PageNotFound:
    return PageNotFound("the page has expired (or the page store lost it); reload to start"
                        " a new one")


def _safe_url(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class _Kept:
    """A page lock this process keeps between its changes of the page."""

    __slots__ = ("lock", "version", "busy", "until", "last", "idle", "renew", "wanted")

    def __init__(self, lock: str) -> None:
        self.lock = lock
        self.version = 0  # the page's version when the lock was kept
        self.busy = False  # a change of this process holds it now
        self.until = 0.0  # loop time until which it may be used without asking Redis
        self.last = 0.0  # loop time of its last use
        self.idle: asyncio.TimerHandle | None = None  # gives it back once idle for ``keep``
        self.renew: asyncio.TimerHandle | None = None  # renews the lease of a long change
        self.wanted = False  # another process asked for it: given back after this change


class _Subscriptions:
    """The process's pub/sub connection: the channels wanted, and one task reading them.

    Commands go out one at a time (a lock); Redis confirms each channel of a SUBSCRIBE or
    UNSUBSCRIBE in order, so counting the commands still unconfirmed per channel tells when a
    subscription is really in effect. When the connection drops, every waiter fails, the state
    callback hears why, and the reader reconnects with a growing delay, subscribes to every
    wanted channel again and, once Redis confirmed them all, reports the store back.
    """

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        self.reset()

    def reset(self) -> None:
        # Called for a new event loop too: tasks and connections of another loop are dropped.
        self.want: set[str] = set()
        self.inflight: dict[str, int] = {}  # commands sent per channel, not yet confirmed
        self.last: dict[str, bool] = {}  # per channel: was the last command sent a subscribe
        self.confirmed: set[str] = set()
        self.waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.pubsub: Any = None
        self.task: asyncio.Task[None] | None = None
        self.lock: asyncio.Lock | None = None
        self.down: BaseException | None = None
        self.on_notice: Notice | None = None
        self.on_state: StoreState | None = None

    def start(self, on_notice: Notice, on_state: StoreState) -> None:
        self.on_notice, self.on_state = on_notice, on_state
        if self.task is None:
            self.lock = asyncio.Lock()
            self.task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            # redis-py's read may swallow a cancellation: the loop also ends on its own (below)
            # within a read timeout, and this does not wait for more.
            task.cancel()
            await asyncio.wait([task], timeout=0.5)
        await self._drop()

    async def subscribe(self, channel: str) -> None:
        self.want.add(channel)
        if channel in self.confirmed and not self.inflight.get(channel):
            return
        if self.pubsub is None and self.down is not None:
            raise self._unreachable()
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(channel, []).append(waiter)
        # Still connecting (no pubsub yet): the connection subscribes to every wanted channel.
        await self._send(channel)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.store.lock_wait)
        except asyncio.TimeoutError:
            raise self._unreachable() from None

    def unsubscribe(self, channel: str) -> None:
        self.want.discard(channel)
        if self.pubsub is not None and self.task is not None:
            send = asyncio.ensure_future(self._send(channel))
            send.add_done_callback(_quiet)

    async def _send(self, channel: str) -> None:
        """Bring Redis in line with ``want`` for ``channel`` (one command at most)."""
        assert self.lock is not None
        async with self.lock:
            pubsub = self.pubsub
            wanted = channel in self.want
            # What Redis holds once the commands in flight are confirmed: the last one sent.
            if pubsub is None or self.last.get(channel, False) == wanted:
                return
            self.inflight[channel] = self.inflight.get(channel, 0) + 1
            self.last[channel] = wanted
            try:
                if wanted:
                    await pubsub.subscribe(channel)
                else:
                    await pubsub.unsubscribe(channel)
            except self.store._errors as exc:
                self._fail(exc)

    async def _run(self) -> None:
        me = asyncio.current_task()
        delay = 0.1
        while self.task is me:
            try:
                await self._connect()
                delay = 0.1
                while self.task is me:
                    message = await self.pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._handle(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped connection, a refused one, a timeout
                if self.task is not me:
                    return  # stopped: the connection was closed on purpose
                self._fail(exc)
                await self._drop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _connect(self) -> None:
        assert self.lock is not None
        async with self.lock:
            self.pubsub = self.store._redis.pubsub()
            self.confirmed.clear()
            self.inflight.clear()
            self.last.clear()
            # A channel of its own keeps the connection subscribed (and so readable) always.
            channels = [*sorted(self.want), self.store.asks]
            for channel in channels:
                self.inflight[channel] = 1
                self.last[channel] = True
            await self.pubsub.subscribe(*channels)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        if kind == "message" and channel == self.store.asks:
            page_id, _, lock = message["data"].decode().partition(" ")
            self.store._asked(page_id, lock)
            return
        if kind == "message":
            version, _, origin = message["data"].decode().partition(" ")
            if self.on_notice is not None and version.isdigit():
                self.on_notice(self.store.page_of(channel), int(version), origin)
            return
        if kind not in ("subscribe", "unsubscribe"):
            return
        left = self.inflight.get(channel, 1) - 1
        if left > 0:
            self.inflight[channel] = left
            return
        self.inflight.pop(channel, None)
        if kind == "subscribe":
            self.confirmed.add(channel)
            for waiter in self.waiters.pop(channel, []):
                if not waiter.done():
                    waiter.set_result(None)
        else:
            self.confirmed.discard(channel)
        if self.down is not None and not self.inflight:
            # Every wanted channel is subscribed again: notices flow, the store is back.
            self.down = None
            logger.warning("livetemplate: the page store %s is reachable again", self.store)
            if self.on_state is not None:
                self.on_state(None)

    def _fail(self, exc: BaseException) -> None:
        for waiters in self.waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(self._unreachable())
        self.waiters.clear()
        if self.down is None:
            self.down = exc
            logger.error("livetemplate: the page store %s is unreachable (%s: %s); actions on"
                         " shared pages fail and updates from other workers pause until it is"
                         " back", self.store, type(exc).__name__, exc)
            if self.on_state is not None:
                self.on_state(exc)

    async def _drop(self) -> None:
        pubsub, self.pubsub = self.pubsub, None
        self.confirmed.clear()
        self.inflight.clear()
        self.last.clear()
        if pubsub is not None:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    def _unreachable(self) -> StoreUnavailable:
        why = f" ({type(self.down).__name__}: {self.down})" if self.down is not None else ""
        return StoreUnavailable(f"the page store is unreachable{why}; try again in a moment")


def _quiet(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("livetemplate: unsubscribe failed", exc_info=task.exception())
