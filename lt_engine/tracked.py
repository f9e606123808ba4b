"""Data that reports its own mutations, so an update need not re-read a whole list.

``track(value)`` turns nested lists and dicts into :class:`TrackedList` and :class:`TrackedDict`
(subclasses of ``list`` and ``dict`` that render, compare and serialise exactly as the
originals), and objects into *tracked objects* (below).  A tracked list keeps a version number
and, since its last structural change (insert, delete, sort, …), the version at which each item
last changed; a change inside a tracked item reaches its list through a parent link.  The engine
asks a list what changed since the version it last saw and checks only those items: toggling one
row of 1,000 costs one row, not a scan.

Safety first: whatever a list cannot vouch for makes it fall back to the full scan.  Every
tracked container and object counts the values it holds whose changes it cannot see: *opaque*
values (a plain list put into a tracked dict, a set, a model that cannot be tracked), tracked
children that hold such values, and *shared* children (held by two containers, or twice by one:
a child has one parent link, so it cannot tell all its holders).  A list with a non-zero count
is scanned; the count follows every change, so a list is trusted again once what it could not
see is gone.  A list also names its opaque items (``lt_opaque_at``) and still says what it did
see change (``lt_changes_since(version, seen=True)``), including an item that turned opaque in
place (a child that becomes shared tells its old holder, at its slot): ``lt_engine.journal``
follows the opaque items itself, so a few plain dicts do not make a delta carry the whole list.

Tracked objects.  An object cannot be wrapped without changing what it is, so ``track`` swaps
its class, in place, for a subclass made once per class that reports attribute assignment and
deletion and pretends to be the original: ``obj.__class__`` is the original class, so
``isinstance``, ``==`` between tracked and untracked instances (dataclasses and attrs compare
``__class__``), ``repr``, ``copy`` and ``pickle`` (an untracked copy comes back) behave as
before; only ``type(obj)`` shows the subclass.  Values assigned to a tracked object are tracked
(lists and dicts as tracked copies).  The object's parent link lives beside it, in a weak
reference keyed by its id, not in its ``__dict__``, so ``vars(obj)`` is unchanged.  Classes with
a metaclass of their own (pydantic models, ORM rows), frozen dataclasses and objects that cannot
be weakly referenced are left as they are: opaque, so their list is scanned, which reads their
attributes in C.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import uuid
import weakref
from collections.abc import Callable, Iterable
from typing import Any, SupportsIndex

# Values that cannot change in place: a container holding them can trust them.
_IMMUTABLE = (str, int, float, bool, bytes, type(None), complex, frozenset, range,
              datetime.date, datetime.time, datetime.timedelta, datetime.tzinfo,
              decimal.Decimal, fractions.Fraction, uuid.UUID, enum.Enum, pathlib.PurePath)
# The immutable types most values are: neither tracked nor counted as opaque.
_SCALARS = frozenset({int, float, str, bool, bytes, type(None)})
APPEND_LOG = 64  # appends remembered between structural changes; more count as one


# ---------------------------------------------------------------------------------------------
# What every tracked node (container or object) does with its parent and its children.
# A node's bookkeeping (``_lt_parent``, ``_lt_slot``, ``_lt_opaque``) lives on the container
# itself, or on the link of a tracked object: ``_state`` finds it.

_SHARED = object()


def _state(node: Any) -> Any:
    cls = type(node)
    if cls is TrackedList or cls is TrackedDict:
        return node
    if cls in _TRACKED_CLASSES:
        return _links[id(node)]
    return node  # a subclass of TrackedList or TrackedDict


def _tracked(value: Any) -> bool:
    return isinstance(value, (TrackedList, TrackedDict)) or type(value) in _TRACKED_CLASSES


def _opaque(value: Any) -> bool:
    """A value whose in-place changes a tracked node cannot see."""
    if isinstance(value, (_IMMUTABLE, TrackedList, TrackedDict)) or type(value) in _TRACKED_CLASSES:
        return False
    # Named tuples and frozen dataclasses too: immutable, unless an item is not. A tracked item
    # counts: it reports its changes to its own parent, never through the tuple to its holder.
    if isinstance(value, tuple):
        return any(_opaque(v) or _tracked(v) for v in value)
    if _frozen_dataclass(value):
        return any(_opaque(v) or _tracked(v)
                   for v in (getattr(value, f.name) for f in dataclasses.fields(value)))
    return not callable(value)


def _frozen_dataclass(value: Any) -> bool:
    params = getattr(type(value), "__dataclass_params__", None)
    return params is not None and bool(params.frozen)


def _notify(node: Any) -> None:
    """Tell ``node``'s parent that something inside it changed (a shared node's holders count
    it as opaque and look at it on every update anyway)."""
    st = _state(node)
    parent = st._lt_parent
    if parent is not None and parent is not _SHARED:
        parent._lt_child_changed(st._lt_slot)


def _counts(st: Any) -> bool:
    """Whether a tracked child counts as opaque to whatever holds it."""
    return st._lt_parent is _SHARED or st._lt_opaque > 0


def unseen(item: Any) -> bool:
    """Whether a container holding ``item`` counts it as opaque (cannot see it change)."""
    cls = type(item)
    if cls is dict or cls is list:  # the commonest: plain rows an action appended
        return True
    if cls is TrackedDict or cls is TrackedList:
        return _counts(item)  # a container is its own bookkeeping
    if cls in _SCALARS:
        return False
    if _tracked(item):
        return _counts(_state(item))
    return _opaque(item)


def _count_opaque(node: Any, delta: int) -> None:
    """``node`` holds ``delta`` more opaque values; its parent learns when it turns opaque or
    clear (a shared node counts as opaque to its holders either way)."""
    st = _state(node)
    before = st._lt_opaque
    st._lt_opaque = before + delta
    parent = st._lt_parent
    if (before > 0) != (st._lt_opaque > 0) and parent is not None and parent is not _SHARED:
        _count_opaque(parent, 1 if st._lt_opaque > 0 else -1)


def _held_twice(node: Any, value: Any) -> bool:
    if isinstance(node, list):
        values: Iterable[Any] = list.__iter__(node)
    elif isinstance(node, dict):
        values = dict.values(node)
    else:
        values = (getattr(node, name, None) for name in _attr_names(node))
    return sum(1 for v in values if v is value) > 1


def _take(node: Any, value: Any, slot: Any) -> None:
    """``node`` now holds ``value`` at ``slot``.  An object entering tracked data is tracked in
    place (lists and dicts are not: tracking them would copy them)."""
    if not _tracked(value) and not isinstance(value, (_IMMUTABLE, tuple, list, dict, type)) \
            and not callable(value):
        track_object(value)
    if _tracked(value):
        st = _state(value)
        current = st._lt_parent
        if current is None:
            st._lt_parent = node
        elif current is not _SHARED and (current is not node or _held_twice(node, value)):
            # Now shared: the holder it had counts it as opaque from here on, and hears it as a
            # change at its old slot (a journal following that holder's opaque items learns of
            # it there: from now on the child's changes reach no holder).
            if st._lt_opaque == 0:
                _count_opaque(current, 1)
            st._lt_parent = _SHARED
            current._lt_child_changed(st._lt_slot)
        st._lt_slot = slot
        if _counts(st):
            _count_opaque(node, 1)
    elif _opaque(value):
        _count_opaque(node, 1)


def _drop(node: Any, value: Any) -> None:
    """``node`` no longer holds ``value`` (one place of it)."""
    if _tracked(value):
        st = _state(value)
        if _counts(st):
            _count_opaque(node, -1)
        if st._lt_parent is node:
            st._lt_parent = None
    elif _opaque(value):
        _count_opaque(node, -1)


def _renumber(node: Any, value: Any, slot: Any) -> None:
    if _tracked(value):
        st = _state(value)
        if st._lt_parent is node:
            st._lt_slot = slot


# ---------------------------------------------------------------------------------------------
# Containers


class TrackedList(list):
    """A list that records which items changed since each version."""

    __slots__ = ("_lt_parent", "_lt_slot", "_lt_opaque", "_lt_version", "_lt_struct",
                 "_lt_dirty", "_lt_appends")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self._lt_parent: Any = None
        self._lt_slot: Any = None
        self._lt_opaque = 0  # values (or tracked children holding values) it cannot see change
        self._lt_version = 0
        self._lt_struct = 0  # version of the last structural change
        self._lt_dirty: dict[int, int] = {}  # index -> version of its last change, oldest first
        self._lt_appends: list[tuple[int, int]] = []  # (version, length before) since _lt_struct
        for i, item in enumerate(self):
            _take(self, item, i)

    # -- bookkeeping

    def _lt_structural(self, start: int = 0) -> None:
        self._lt_version += 1
        self._lt_struct = self._lt_version
        self._lt_dirty.clear()
        self._lt_appends.clear()
        for i in range(start, len(self)):
            _renumber(self, list.__getitem__(self, i), i)
        _notify(self)

    def _lt_appended(self, before: int) -> None:
        """Items were added at the end: earlier items kept their places."""
        if len(self._lt_appends) >= APPEND_LOG:
            self._lt_structural(before)
            return
        self._lt_version += 1
        self._lt_appends.append((self._lt_version, before))
        _notify(self)

    def _lt_child_changed(self, index: int) -> None:
        self._lt_version += 1
        dirty = self._lt_dirty
        dirty.pop(index, None)  # keep the dict ordered by version
        dirty[index] = self._lt_version
        _notify(self)

    def lt_changes_since(self, version: int, seen: bool = False) -> tuple[list[int], int] | None:
        """``(indices changed, length)`` since ``version``: the items changed in place after it,
        and how many items the list had then (any beyond were appended). None when only a full
        scan can tell (a structural change, or values whose changes the list cannot see).

        With ``seen``, the changes the list saw even while it holds opaque items (None only
        after a structural change): the caller looks at those items itself
        (:meth:`lt_opaque_at`). An item that turns opaque in place is reported changed."""
        if self._lt_struct > version or (self._lt_opaque and not seen):
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

    @property
    def lt_opaque(self) -> int:
        """How many of its items it cannot see change (0: it reports every change itself)."""
        return self._lt_opaque

    def lt_opaque_at(self, index: int) -> bool:
        """Whether it cannot see the item at ``index`` change: an untracked mutable value, or a
        tracked child that is shared or holds such values."""
        return unseen(list.__getitem__(self, index))

    def lt_opaque_indices(self) -> list[int]:
        """The indices of the items it cannot see change (a scan of the whole list)."""
        return [i for i, item in enumerate(list.__iter__(self)) if unseen(item)]

    # -- mutations

    def __setitem__(self, index: Any, value: Any) -> None:
        if isinstance(index, slice):
            for item in self:
                _drop(self, item)
            list.__setitem__(self, index, value)
            self.__init_items()
            return
        i = range(len(self))[index]
        _drop(self, list.__getitem__(self, i))
        list.__setitem__(self, i, value)
        _take(self, value, i)
        self._lt_child_changed(i)

    def __delitem__(self, index: Any) -> None:
        if isinstance(index, slice):
            for item in list.__getitem__(self, index):
                _drop(self, item)
            list.__delitem__(self, index)
            self._lt_structural()
            return
        i = range(len(self))[index]
        _drop(self, list.__getitem__(self, i))
        list.__delitem__(self, i)
        self._lt_structural(i)

    def append(self, value: Any) -> None:
        list.append(self, value)
        _take(self, value, len(self) - 1)
        self._lt_appended(len(self) - 1)

    def extend(self, values: Iterable[Any]) -> None:
        start = len(self)
        list.extend(self, values)
        for i in range(start, len(self)):
            _take(self, list.__getitem__(self, i), i)
        if len(self) > start:
            self._lt_appended(start)

    def __iadd__(self, values: Iterable[Any]) -> TrackedList:  # type: ignore[misc]
        self.extend(values)
        return self

    def __imul__(self, count: SupportsIndex) -> TrackedList:
        for item in self:
            _drop(self, item)
        list.__imul__(self, count)
        self.__init_items()  # repeated items now have several places: they become shared
        return self

    def insert(self, index: SupportsIndex, value: Any) -> None:
        list.insert(self, index, value)
        _take(self, value, 0)  # its real index is set by the renumbering
        self._lt_structural(0)

    def pop(self, index: SupportsIndex = -1) -> Any:
        value = list.pop(self, index)
        _drop(self, value)
        self._lt_structural(0)
        return value

    def remove(self, value: Any) -> None:
        i = list.index(self, value)
        del self[i]

    def clear(self) -> None:
        for item in self:
            _drop(self, item)
        list.clear(self)
        self._lt_structural()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        list.sort(self, *args, **kwargs)
        self._lt_structural()

    def reverse(self) -> None:
        list.reverse(self)
        self._lt_structural()

    def __init_items(self) -> None:
        """Take every item again after a change that may have touched any of them (every item
        was dropped first)."""
        for i, item in enumerate(self):
            _take(self, item, i)
        self._lt_structural()

    def copy(self) -> list[Any]:
        return list(self)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (TrackedList, (list(self),))


class TrackedDict(dict):
    """A dict that tells its tracked container when any of its values changes."""

    __slots__ = ("_lt_parent", "_lt_slot", "_lt_opaque")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        dict.__init__(self, *args, **kwargs)
        self._lt_parent: Any = None
        self._lt_slot: Any = None
        self._lt_opaque = 0
        for key, value in dict.items(self):
            _take(self, value, key)

    def _lt_child_changed(self, key: Any) -> None:
        _notify(self)

    def __setitem__(self, key: Any, value: Any) -> None:
        if key in self:
            _drop(self, dict.__getitem__(self, key))
        dict.__setitem__(self, key, value)
        _take(self, value, key)
        _notify(self)

    def __delitem__(self, key: Any) -> None:
        value = dict.__getitem__(self, key)
        dict.__delitem__(self, key)
        _drop(self, value)
        _notify(self)

    def pop(self, *args: Any) -> Any:
        if args and args[0] in self:
            _drop(self, dict.__getitem__(self, args[0]))
        value = dict.pop(self, *args)
        _notify(self)
        return value

    def popitem(self) -> tuple[Any, Any]:
        item = dict.popitem(self)
        _drop(self, item[1])
        _notify(self)
        return item

    def clear(self) -> None:
        for value in dict.values(self):
            _drop(self, value)
        dict.clear(self)
        _notify(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            if key in self:
                _drop(self, dict.__getitem__(self, key))
            dict.__setitem__(self, key, value)
            _take(self, value, key)
        _notify(self)

    def __ior__(self, other: Any) -> TrackedDict:  # type: ignore[misc]
        self.update(other)
        return self

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return dict.__getitem__(self, key)
        self[key] = default
        return default

    def copy(self) -> dict[Any, Any]:
        return dict(self)

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        return (TrackedDict, (dict(self),))


# Attribute names of dict and TrackedDict: for these ``d.name`` is not an item lookup.
MAPPING_ATTRS = frozenset(dir(TrackedDict))


# ---------------------------------------------------------------------------------------------
# Objects


class _Link(weakref.ref):
    """A tracked object's bookkeeping; dies with the object."""

    __slots__ = ("_lt_parent", "_lt_slot", "_lt_opaque")

    _lt_parent: Any
    _lt_slot: Any
    _lt_opaque: int


_links: dict[int, _Link] = {}
_TRACKED_CLASSES: dict[type, type] = {}  # tracked subclass -> original class
_SUBCLASSES: dict[type, type | None] = {}  # original class -> tracked subclass, None: cannot be
_set_class = object.__dict__["__class__"].__set__  # the real __class__, past the subclass's


def _attr_names(obj: Any) -> list[str]:
    """The attributes ``track`` looks into: a dataclass's fields, else the instance's own."""
    if dataclasses.is_dataclass(obj):
        return [f.name for f in dataclasses.fields(obj)]
    names = list(getattr(obj, "__dict__", ()))
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        names.extend([slots] if isinstance(slots, str) else slots)
    return [n for n in names if n not in ("__dict__", "__weakref__")]


_HEAPTYPE, _BASETYPE = 1 << 9, 1 << 10  # Py_TPFLAGS_*: a class written in Python, subclassable


def _trackable_class(cls: type) -> bool:
    """A class written in Python (not a C type such as a lock), with the plain metaclass, whose
    instances can be weakly referenced and may change."""
    return (type(cls) is type and bool(cls.__flags__ & _HEAPTYPE) and bool(cls.__flags__ & _BASETYPE)
            and bool(cls.__weakrefoffset__) and not _frozen_dataclass_class(cls))


def _frozen_dataclass_class(cls: type) -> bool:
    params = getattr(cls, "__dataclass_params__", None)
    return params is not None and bool(params.frozen)


def _tracked_class(cls: type) -> type | None:
    """The reporting subclass of ``cls``, made on first use; None when it cannot have one."""
    if cls in _SUBCLASSES:
        return _SUBCLASSES[cls]
    sub: type | None = None
    if _trackable_class(cls):
        # Typed loosely: a class's own __setattr__ may take anything.
        base_setattr: Callable[..., None] = cls.__setattr__
        base_delattr: Callable[..., None] = cls.__delattr__
        base_reduce: Callable[..., Any] = cls.__reduce_ex__
        read = object.__getattribute__

        def __setattr__(self: Any, name: str, value: Any) -> None:
            try:
                old = read(self, name)
            except AttributeError:
                old = _NOTHING
            if type(value) in _SCALARS and type(old) in _SCALARS:
                # A scalar over a scalar (``count += 1``): nothing to track, drop or count.
                base_setattr(self, name, value)
                _notify(self)
                return
            base_setattr(self, name, track(value))
            if old is not _NOTHING:
                _drop(self, old)
            _take(self, read(self, name), name)
            _notify(self)

        def __delattr__(self: Any, name: str) -> None:
            old = read(self, name)
            base_delattr(self, name)
            _drop(self, old)
            _notify(self)

        def _lt_child_changed(self: Any, slot: Any) -> None:
            _notify(self)

        def __reduce_ex__(self: Any, protocol: SupportsIndex) -> Any:
            # Pickled and copied as the original class: the copy is untracked.
            rv = base_reduce(self, protocol)
            if isinstance(rv, tuple) and len(rv) > 1 and isinstance(rv[1], tuple):
                rv = (rv[0], tuple(cls if a is sub else a for a in rv[1]), *rv[2:])
            return rv

        sub = _make_subclass(cls, {
            "__slots__": (),
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "__setattr__": __setattr__,
            "__delattr__": __delattr__,
            "__reduce_ex__": __reduce_ex__,
            "_lt_child_changed": _lt_child_changed,
            "__class__": property(lambda self: cls),
        })
        if sub is not None:
            _TRACKED_CLASSES[sub] = cls
    _SUBCLASSES[cls] = sub
    return sub


def _make_subclass(cls: type, namespace: dict[str, Any]) -> type | None:
    try:
        return type(cls.__name__, (cls,), namespace)
    except TypeError:  # e.g. an __init_subclass__ that refuses: the class stays untracked
        return None


_NOTHING = object()


def track_object(obj: Any) -> Any:
    """``obj`` itself, made to report attribute assignment, its attribute values tracked; or
    unchanged when its class cannot be tracked (see the module docstring)."""
    cls = type(obj)
    if cls in _TRACKED_CLASSES:
        return obj
    sub = _tracked_class(cls)
    if sub is None:
        return obj
    key = id(obj)
    # (the pop is bound now: at interpreter exit module globals may already be gone)
    def forget(_ref: Any, _key: int = key, _pop: Callable[..., Any] = _links.pop) -> None:
        _pop(_key, None)

    link = _Link(obj, forget)
    link._lt_parent = link._lt_slot = None
    link._lt_opaque = 0
    _links[key] = link
    _set_class(obj, sub)
    for name in _attr_names(obj):
        try:
            value = object.__getattribute__(obj, name)
        except AttributeError:
            continue
        tracked = track(value)
        if tracked is not value:
            object.__setattr__(obj, name, tracked)
        _take(obj, tracked, name)
    return obj


def track(value: Any) -> Any:
    """``value`` with every nested list and dict made tracked (copies), and objects made to
    report their attribute assignments (in place); tuples and scalars as they are.  Data nested
    too deeply to convert is returned as it is (untracked: its list is scanned)."""
    try:
        return _track(value)
    except RecursionError:
        return value


def _track(value: Any) -> Any:
    if isinstance(value, (TrackedList, TrackedDict)):
        return value
    if type(value) is list:
        return TrackedList(_track(v) for v in value)
    if type(value) is dict:
        return TrackedDict({k: _track(v) for k, v in value.items()})
    if isinstance(value, (_IMMUTABLE, tuple, type)) or callable(value):
        return value
    return track_object(value)


def untrack(value: Any) -> Any:
    """Plain lists, dicts and objects again, as copies (for serialising or handing data
    elsewhere); the tracked data itself is left as it is."""
    if isinstance(value, list):
        return [untrack(v) for v in value]
    if isinstance(value, dict):
        return {k: untrack(v) for k, v in value.items()}
    if type(value) in _TRACKED_CLASSES:
        plain = copy.copy(value)  # through __reduce_ex__: an instance of the original class
        for name in _attr_names(plain):
            try:
                attr = object.__getattribute__(plain, name)
            except AttributeError:
                continue
            if _tracked(attr):
                object.__setattr__(plain, name, untrack(attr))
        return plain
    return value
