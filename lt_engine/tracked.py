"""Containers that report their own mutations, so an update need not re-read a whole list.

``track(value)`` turns nested lists and dicts into :class:`TrackedList` and :class:`TrackedDict`
(subclasses of ``list`` and ``dict`` that render, compare and serialise exactly as the originals).
A tracked list keeps a version number and, since its last structural change (insert, delete,
sort, …), the version at which each item last changed; a change inside a tracked item reaches
its list through a parent link.  The engine asks a list what changed since the version it last
saw and checks only those items: toggling one row of 1,000 costs one row, not a scan.

Safety first: whatever the list cannot vouch for makes it fall back to the full scan —
a mutable item that is not tracked (a plain dict appended later), or an item held by two
tracked containers.  Wrap new items with ``track()`` to keep the fast path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, SupportsIndex

# Bumped whenever an item held by more than one tracked container changes: observers that saw
# another value fall back to a full scan (the item cannot tell all its containers).
_shared_epoch = [0]

_IMMUTABLE = (str, int, float, bool, bytes, type(None), complex, frozenset)
APPEND_LOG = 64  # appends remembered between structural changes; more count as one


def shared_epoch() -> int:
    return _shared_epoch[0]


class _Child:
    """Parent link of a tracked container: who to tell when something inside changes."""

    __slots__ = ()

    def _lt_adopt(self, parent: Any, slot: Any) -> None:
        current = self._lt_parent  # type: ignore[attr-defined]
        if current is not None and current is not parent:
            self._lt_parent = _SHARED  # type: ignore[attr-defined]
        else:
            self._lt_parent = parent  # type: ignore[attr-defined]
        self._lt_slot = slot  # type: ignore[attr-defined]

    def _lt_notify(self) -> None:
        parent = self._lt_parent  # type: ignore[attr-defined]
        if parent is None:
            return
        if parent is _SHARED:
            _shared_epoch[0] += 1
            return
        parent._lt_child_changed(self._lt_slot)


_SHARED = object()


def _opaque(value: Any) -> bool:
    """A value whose in-place changes a tracked container cannot see."""
    return not isinstance(value, (_IMMUTABLE, TrackedList, TrackedDict)) and not (
        type(value) is tuple and not any(_opaque(v) for v in value)
    )


class TrackedList(_Child, list):  # type: ignore[misc]
    """A list that records which items changed since each version."""

    __slots__ = ("_lt_parent", "_lt_slot", "_lt_version", "_lt_struct", "_lt_dirty", "_lt_opaque",
                 "_lt_appends")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self._lt_parent: Any = None
        self._lt_slot: Any = None
        self._lt_version = 0
        self._lt_struct = 0  # version of the last structural change
        self._lt_dirty: dict[int, int] = {}  # index -> version of its last change, oldest first
        self._lt_opaque = 0  # items whose changes this list cannot see
        self._lt_appends: list[tuple[int, int]] = []  # (version, length before) since _lt_struct
        for i, item in enumerate(self):
            self._lt_take(item, i)

    # -- bookkeeping

    def _lt_take(self, item: Any, index: int) -> None:
        if isinstance(item, (TrackedList, TrackedDict)):
            item._lt_adopt(self, index)
        elif _opaque(item):
            self._lt_opaque += 1

    def _lt_drop(self, item: Any) -> None:
        if isinstance(item, (TrackedList, TrackedDict)):
            if item._lt_parent is self:
                item._lt_parent = None
        elif _opaque(item):
            self._lt_opaque -= 1

    def _lt_renumber(self, start: int = 0) -> None:
        for i in range(start, len(self)):
            item = list.__getitem__(self, i)
            if isinstance(item, (TrackedList, TrackedDict)) and item._lt_parent is self:
                item._lt_slot = i

    def _lt_structural(self, start: int = 0) -> None:
        self._lt_version += 1
        self._lt_struct = self._lt_version
        self._lt_dirty.clear()
        self._lt_appends.clear()
        self._lt_renumber(start)
        self._lt_notify()

    def _lt_appended(self, before: int) -> None:
        """Items were added at the end: earlier items kept their places."""
        if len(self._lt_appends) >= APPEND_LOG:
            self._lt_structural(before)
            return
        self._lt_version += 1
        self._lt_appends.append((self._lt_version, before))
        self._lt_notify()

    def _lt_child_changed(self, index: int) -> None:
        self._lt_version += 1
        dirty = self._lt_dirty
        dirty.pop(index, None)  # keep the dict ordered by version
        dirty[index] = self._lt_version
        self._lt_notify()

    def lt_changes_since(self, version: int) -> tuple[list[int], int] | None:
        """``(indices changed, length)`` since ``version``: the items changed in place after it,
        and how many items the list had then (any beyond were appended). None when only a full
        scan can tell (a structural change, or items whose changes the list cannot see)."""
        if self._lt_struct > version or self._lt_opaque:
            return None
        length = len(self)
        for appended_at, before in self._lt_appends:
            if appended_at > version:
                length = before
                break
        changed = []
        for index in reversed(self._lt_dirty):
            if self._lt_dirty[index] <= version:
                break
            if index < length:
                changed.append(index)
        return changed, length

    @property
    def lt_version(self) -> int:
        return self._lt_version

    # -- mutations

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            for item in list.__getitem__(self, index):
                self._lt_drop(item)
            list.__setitem__(self, index, value)
            self.__init_items()
            return
        i = range(len(self))[index]
        self._lt_drop(list.__getitem__(self, i))
        list.__setitem__(self, i, value)
        self._lt_take(value, i)
        self._lt_child_changed(i)

    def __delitem__(self, index: Any) -> None:
        if isinstance(index, slice):
            for item in list.__getitem__(self, index):
                self._lt_drop(item)
            list.__delitem__(self, index)
            self._lt_structural()
            return
        i = range(len(self))[index]
        self._lt_drop(list.__getitem__(self, i))
        list.__delitem__(self, i)
        self._lt_structural(i)

    def append(self, value: Any) -> None:
        list.append(self, value)
        self._lt_take(value, len(self) - 1)
        self._lt_appended(len(self) - 1)

    def extend(self, values: Iterable[Any]) -> None:
        start = len(self)
        list.extend(self, values)
        for i in range(start, len(self)):
            self._lt_take(list.__getitem__(self, i), i)
        if len(self) > start:
            self._lt_appended(start)

    def __iadd__(self, values: Iterable[Any]) -> TrackedList:  # type: ignore[override]
        self.extend(values)
        return self

    def __imul__(self, count: SupportsIndex) -> TrackedList:  # type: ignore[override]
        list.__imul__(self, count)
        self.__init_items()  # repeated items now have several places: adopt marks them shared
        return self

    def insert(self, index: SupportsIndex, value: Any) -> None:
        list.insert(self, index, value)
        self._lt_take(value, 0)  # its real index is set by the renumbering
        self._lt_structural(0)

    def pop(self, index: SupportsIndex = -1) -> Any:
        value = list.pop(self, index)
        self._lt_drop(value)
        self._lt_structural(0)
        return value

    def remove(self, value: Any) -> None:
        i = list.index(self, value)
        del self[i]

    def clear(self) -> None:
        for item in self:
            self._lt_drop(item)
        list.clear(self)
        self._lt_structural()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        list.sort(self, *args, **kwargs)
        self._lt_structural()

    def reverse(self) -> None:
        list.reverse(self)
        self._lt_structural()

    def __init_items(self) -> None:
        """Recount and re-adopt every item after a change that may touch any of them."""
        self._lt_opaque = 0
        for i, item in enumerate(self):
            if isinstance(item, (TrackedList, TrackedDict)):
                item._lt_adopt(self, i)
            elif _opaque(item):
                self._lt_opaque += 1
        self._lt_structural()

    def copy(self) -> list[Any]:  # type: ignore[override]
        return list(self)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (TrackedList, (list(self),))


class TrackedDict(_Child, dict):  # type: ignore[misc]
    """A dict that tells its tracked container when any of its values changes."""

    __slots__ = ("_lt_parent", "_lt_slot")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self, *args, **kwargs)
        self._lt_parent: Any = None
        self._lt_slot: Any = None
        for key, value in dict.items(self):
            if isinstance(value, (TrackedList, TrackedDict)):
                value._lt_adopt(self, key)

    def _lt_child_changed(self, key: Any) -> None:
        self._lt_notify()

    def _lt_set(self, key: Any, value: Any) -> None:
        if isinstance(value, (TrackedList, TrackedDict)):
            value._lt_adopt(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        dict.__setitem__(self, key, value)
        self._lt_set(key, value)
        self._lt_notify()

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, key)
        self._lt_notify()

    def pop(self, *args: Any) -> Any:
        value = dict.pop(self, *args)
        self._lt_notify()
        return value

    def popitem(self) -> tuple[Any, Any]:
        item = dict.popitem(self)
        self._lt_notify()
        return item

    def clear(self) -> None:
        dict.clear(self)
        self._lt_notify()

    def update(self, *args: Any, **kwargs: Any) -> None:
        dict.update(self, *args, **kwargs)
        for key, value in dict.items(self):
            self._lt_set(key, value)
        self._lt_notify()

    def __ior__(self, other: Any) -> TrackedDict:  # type: ignore[override]
        self.update(other)
        return self

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return default

    def copy(self) -> dict[Any, Any]:  # type: ignore[override]
        return dict(self)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (TrackedDict, (dict(self),))


# Attribute names of dict and TrackedDict: for these ``d.name`` is not an item lookup.
MAPPING_ATTRS = frozenset(dir(TrackedDict))


def track(value: Any) -> Any:
    """``value`` with every nested list and dict made tracked (tuples and scalars as they are)."""
    if isinstance(value, (TrackedList, TrackedDict)):
        return value
    if type(value) is list:
        return TrackedList(track(v) for v in value)
    if type(value) is dict:
        return TrackedDict({k: track(v) for k, v in value.items()})
    return value


def untrack(value: Any) -> Any:
    """Plain lists and dicts again (for serialising or handing data elsewhere)."""
    if isinstance(value, list):
        return [untrack(v) for v in value]
    if isinstance(value, dict):
        return {k: untrack(v) for k, v in value.items()}
    return value
