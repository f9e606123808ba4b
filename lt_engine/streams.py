"""Streams: loop contents the server sends once and forgets.

A template marks a loop as a stream with ``{% for m in stream("messages") %}``; the data's
``messages`` is then a :class:`Stream`.  Code inserts, updates and deletes items through it;
each change waits in the stream only until the page's next update renders it into range ops
(``_streams.pxi``), so a page's memory does not grow with what it has streamed: the items live
in the browser.  A stream's first render (and jinja2's, through :func:`stream_items`) shows the
items inserted before it, in order.

Items need a key attribute in the loop body (``id="m-{{ m.id }}"``): updates and deletes find the
browser's item by that key, and inserting an item whose key the browser already has replaces it
where it stands.  ``limit`` caps how many items the browser keeps: an append drops the oldest
from the front, a prepend from the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

# What waits in a stream (``Stream.take``): (kind, payload).
APPEND = "append"  # payload: list of items
PREPEND = "prepend"  # payload: list of items, in display order
UPDATE = "update"  # payload: the item
DELETE = "delete"  # payload: the item
DELETE_KEY = "delete_key"  # payload: the item's key (a string)
RESET = "reset"  # payload: list of items

GLOBAL_NAME = "stream"  # the template function that marks a loop as a stream


class Stream:
    """The items of a streamed loop, held only until the page sends them.

    ``Stream(items, limit=50)`` starts with ``items``; ``limit`` (an int >= 1, or None) is how
    many items the browser keeps at most.
    """

    # No __dict__ and no weak references: tracking (lt_engine.tracked) leaves a stream as it is,
    # and what it holds is only what waits to be sent.
    __slots__ = ("_pending", "_limit")

    def __init__(self, items: Iterable[Any] = (), *, limit: int | None = None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"a stream's limit is an int >= 1 or None, not {limit!r}")
        self._limit = limit
        self._pending: list[tuple[str, Any]] = []
        items = list(items)
        if items:
            self._pending.append((APPEND, items))

    def __repr__(self) -> str:
        return f"<Stream limit={self._limit} pending={len(self._pending)}>"

    def __getstate__(self) -> tuple[list[tuple[str, Any]], int | None]:
        return (self._pending, self._limit)

    def __setstate__(self, state: tuple[list[tuple[str, Any]], int | None]) -> None:
        self._pending, self._limit = state

    @property
    def limit(self) -> int | None:
        return self._limit

    @property
    def pending(self) -> int:
        """How many changes wait to be sent."""
        return len(self._pending)

    def append(self, *items: Any) -> None:
        """Insert ``items`` at the end (an item whose key the browser has replaces it in place)."""
        self._add(APPEND, list(items))

    def prepend(self, *items: Any) -> None:
        """Insert ``items`` at the front, in the order given."""
        self._add(PREPEND, list(items))

    def insert(self, item: Any, at: int = -1) -> None:
        """Insert one item at the end (``at=-1``) or the front (``at=0``)."""
        if at == -1:
            self.append(item)
        elif at == 0:
            self.prepend(item)
        else:
            raise ValueError(f"a stream inserts at the front (at=0) or the end (at=-1), not at={at!r}")

    def update(self, item: Any) -> None:
        """Re-render the browser's item with ``item``'s key, where it stands (nothing happens to
        a browser that no longer has it)."""
        self._pending.append((UPDATE, item))

    def delete(self, item: Any) -> None:
        """Remove the browser's item with ``item``'s key."""
        self._pending.append((DELETE, item))

    def delete_key(self, key: str) -> None:
        """Remove the browser's item whose key is ``key``: the key attribute's slot value as
        rendered (HTML-escaped: ``"a&amp;b"`` for ``a&b``)."""
        if not isinstance(key, str):
            raise TypeError(f"a stream item key is a str (as sent on the wire), not {type(key).__name__}")
        self._pending.append((DELETE_KEY, key))

    def reset(self, items: Iterable[Any] = ()) -> None:
        """Replace everything the browser has with ``items``."""
        self._pending = [(RESET, list(items))]

    def _add(self, kind: str, items: list[Any]) -> None:
        if not items:
            return
        last = self._pending[-1] if self._pending else None
        # A run of appends is one entry (prepends stay apart: of one key, the newest wins)
        if kind == APPEND and last is not None and last[0] == APPEND:
            last[1].extend(items)
        else:
            self._pending.append((kind, items))

    def take(self) -> list[tuple[str, Any]]:
        """What waits to be sent, in order; the stream is empty afterwards (the engine calls it
        when it renders the changes)."""
        pending, self._pending = self._pending, []
        return pending

    def __iter__(self) -> Iterator[Any]:
        """The items a first render shows: inserts and resets applied in order.  Updates and
        deletes before a first render find their item by identity or equality."""
        items: list[Any] = []
        front = False  # the last insert was at the front: a limit drops from the end
        for kind, payload in self._pending:
            if kind == APPEND:
                items.extend(payload)
                front = False
            elif kind == PREPEND:
                items[:0] = payload
                front = True
            elif kind == RESET:
                items = list(payload)
            elif kind == UPDATE:
                items = [payload if it is payload or it == payload else it for it in items]
            elif kind == DELETE:
                items = [it for it in items if not (it is payload or it == payload)]
        if self._limit is not None and len(items) > self._limit:
            items = items[:self._limit] if front else items[-self._limit:]
        return iter(items)


@pass_context
def stream_items(context: Context, name: str) -> list[Any]:
    """The ``stream(name)`` template function, for jinja2's own rendering (the oracle): the
    items of the stream ``name`` as a first render shows them."""
    value = context.resolve_or_missing(name)
    if not isinstance(value, Stream):
        raise TypeError(f"stream({name!r}): the data's {name!r} is not a livetemplate Stream"
                        f" but {type(value).__name__}")
    return list(value)
