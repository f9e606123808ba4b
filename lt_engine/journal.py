"""What changed in a set of named values since the last mark: a delta, and how to apply it.

A page's state is a handful of named values (its data and its model's attributes). To keep a
copy of it elsewhere up to date — another process, through a store — the whole state need not
travel: a :class:`Journal` remembers, at each :meth:`~Journal.mark`, what each name held, and
:meth:`~Journal.delta` then says what changed since, as a list of operations:

- ``("=", name, blob)``: the name holds a new value (``blob``: the value encoded);
- ``("-", name)``: the name is gone;
- ``("i", name, length, [(index, blob), ...], [blob, ...])``: the name still holds the same
  tracked list (``lt_engine.track``), which had ``length`` items at the mark; the items at these
  indices changed, and these were appended. A list reports this itself (``lt_changes_since``),
  so toggling one row of 10,000 costs one row here too.

A tracked list may hold *opaque* items, whose in-place changes it cannot see: a plain dict an
action appended (``todos.append({...})``: not converted, so the caller's reference stays the
row), a tracked row that holds such a value or is shared with another holder. The mark then
also remembers each opaque item — a dict of scalars by its version (``_core.dict_stamp``: a
field read; CPython 3.10 to 3.12), anything else by its encoding — and the delta looks at those and at the indices
the list saw change, and still sends the rows that changed: a list that holds ten plain dicts
among 10,000 rows costs ten field reads when nothing changed, and one row when one changed.
An item that turns opaque in place (a plain list put into a tracked row, a row appended to a
second list) is reported changed by its list, so the mark learns of it. The whole list travels
(``"="``) after a structural change since the mark (insert, removal, sort, slice assignment,
more appends than ``tracked.APPEND_LOG``), and while it holds one object at two indices, so
that the copy holds it twice too (an ``"i"`` operation carries each row on its own; a value
held under two *names* is two values in a delta, as it always was: only a whole copy keeps
such sharing).

Any other value is compared by its encoding (the blob of the mark against the blob now): small
values cost little, and a large value that is not a tracked list costs its size, as before.

:func:`apply` replays a delta onto a copy that was at the same mark; an ``"i"`` operation whose
list does not have ``length`` items raises :class:`DeltaMismatch` (the copy was not where the
delta starts: start over from a whole copy). Asked to, it tracks the rows it puts into a tracked
list, so the copy's list reports its own changes even when the original's holds plain dicts.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any

from ._core import dict_stamp, held, opaque_scan, restamped
from .tracked import TrackedList, track, unseen

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]
Op = tuple[Any, ...]


# Immutable values whose equality (within one type) says they encode the same: compared by
# value, not by encoding. Not float: 0.0 == -0.0, and they render differently.
_SAME_BY_VALUE = frozenset({int, str, bool, bytes, type(None)})


class DeltaMismatch(Exception):
    """A delta does not start where the copy it was applied to is."""


class _Opaque:
    """A tracked list's opaque items at a mark: the dicts of scalars by their version
    (``dict_stamp``), as two arrays in index order (``at[k]`` held a dict stamped
    ``stamps[k]``: a few bytes an item), and the others by their encoding. The list held none
    of them twice. Shared with the mark: never changed in place once a mark holds it."""

    __slots__ = ("at", "stamps", "blobs")

    def __init__(self, at: array[int], stamps: array[int], blobs: dict[int, bytes]) -> None:
        self.at = at
        self.stamps = stamps
        self.blobs = blobs

    def __len__(self) -> int:
        return len(self.at) + len(self.blobs)

    def copy(self) -> _Opaque:
        return _Opaque(self.at[:], self.stamps[:], dict(self.blobs))

    def drop(self, index: int) -> None:
        k = bisect_left(self.at, index)
        if k < len(self.at) and self.at[k] == index:
            del self.at[k]
            del self.stamps[k]
        self.blobs.pop(index, None)

    def stamp(self, index: int, stamp: int) -> None:
        k = bisect_left(self.at, index)
        if k < len(self.at) and self.at[k] == index:
            self.stamps[k] = stamp
        else:
            self.at.insert(k, index)
            self.stamps.insert(k, stamp)


_NONE = _Opaque(array("q"), array("Q"), {})  # a list that held no opaque items at its mark


class _Mark:
    __slots__ = ("value", "blob", "version", "length", "opaque")

    def __init__(self, value: Any, blob: bytes | None, version: int, length: int,
                 opaque: _Opaque | None = None) -> None:
        self.value = value  # the object the name held (for tracked lists: the same list?)
        self.blob = blob  # its encoding, for values compared by encoding
        self.version = version  # a tracked list's version at the mark
        self.length = length
        self.opaque = opaque  # a tracked list's opaque items (None: it held none)


class Journal:
    """The marks of one set of named values."""

    __slots__ = ("_encode", "_marks")

    def __init__(self, encode: Encode) -> None:
        self._encode = encode
        self._marks: dict[Any, _Mark] = {}

    def mark(self, values: Mapping[Any, Any]) -> None:
        """Remember ``values`` as they are now: the next delta starts here."""
        self._marks = {name: self._mark_of(value) for name, value in values.items()}

    def delta(self, values: Mapping[Any, Any], mark: bool = True) -> list[Op]:
        """What changed in ``values`` since the last mark (``[]``: nothing); with ``mark``, the
        next delta starts from now."""
        ops: list[Op] = []
        marks = self._marks
        new: dict[Any, _Mark] = {}
        encode = self._encode
        for name, value in values.items():
            old = marks.get(name)
            if (old is not None and old.value is value and type(value) is TrackedList
                    and old.blob is None):
                if old.opaque is None:
                    changes = value.lt_changes_since(old.version)
                    if changes is not None and changes[1] == old.length:
                        indices, length = changes
                        if indices or len(value) != length:
                            ops.append(("i", name, length,
                                        [(i, encode(list.__getitem__(value, i)))
                                         for i in indices],
                                        [encode(v) for v in list.__getitem__(value,
                                                                             slice(length, None))]))
                        new[name] = _Mark(value, None, value.lt_version, len(value))
                        continue
                followed = self._follow(name, value, old, ops)
                if followed is not None:
                    new[name] = followed
                    continue
            if old is not None and type(value) in _SAME_BY_VALUE and type(old.value) is type(value) \
                    and old.value == value:
                new[name] = old  # an unchanged scalar: no need to encode it to know
                continue
            now = self._mark_of(value)
            if old is None or now.blob is None or old.blob != now.blob:
                ops.append(("=", name, now.blob if now.blob is not None else encode(value)))
            new[name] = now
        for name in marks:
            if name not in values:
                ops.append(("-", name))
        if mark:
            self._marks = new
        return ops

    def _follow(self, name: Any, value: TrackedList, old: _Mark, ops: list[Op]) -> _Mark | None:
        """For a tracked list that holds opaque items (now or at the mark): append its ``"i"``
        operation to ``ops`` and return its new mark; None when only the whole list can tell (a
        structural change since the mark, or it holds one object twice)."""
        changes = value.lt_changes_since(old.version, True)
        if changes is None or changes[1] != old.length:
            return None
        indices, length = changes
        encode = self._encode
        item = list.__getitem__
        was = old.opaque if old.opaque is not None else _NONE
        # The items the list saw change (an item that turned opaque in place is one of them),
        # then the opaque items of the mark: by their stamp, or else by their encoding.
        changed = {i: encode(item(value, i)) for i in indices}
        for i in restamped(value, was.at, was.stamps):
            if i not in changed:
                changed[i] = encode(item(value, i))
        for i, blob in was.blobs.items():
            if i not in changed:
                now = encode(item(value, i))
                if now != blob:
                    changed[i] = now
        appended = [encode(v) for v in item(value, slice(length, None))]
        opaque = was
        if changed or appended:
            opaque = was.copy()
            seen = set(indices)
            for i, blob in [*changed.items(), *enumerate(appended, length)]:
                opaque.drop(i)
                if value.lt_opaque_at(i):
                    x = item(value, i)
                    stamp = dict_stamp(x)
                    if stamp:
                        opaque.stamp(i, stamp)
                    else:
                        opaque.blobs[i] = blob
                    # A new object can only be where the list saw a change, or appended (one
                    # found by its stamp or encoding is the mark's, changed in place).
                    if (i in seen or i >= length) and held(value, x) > 1:
                        return None  # held twice: the copy must hold it twice too
            ops.append(("i", name, length, sorted(changed.items()), appended))
        if len(opaque) != value.lt_opaque:
            return None  # counts that disagree would be a bug of the bookkeeping: the whole list
        return _Mark(value, None, value.lt_version, len(value), opaque if len(opaque) else None)

    def _mark_of(self, value: Any) -> _Mark:
        if type(value) is TrackedList:
            if not value.lt_opaque:
                # Trusted to report its own changes: no encoding kept.
                return _Mark(value, None, value.lt_version, len(value))
            # Its opaque items, found by one scan, unless it holds one of them twice (or the scan
            # and the list's count disagree: then it is compared whole, as any value).
            at, stamps, others, twice = opaque_scan(value, unseen)
            if not twice and len(at) + len(others) == value.lt_opaque:
                item = list.__getitem__
                encode = self._encode
                return _Mark(value, None, value.lt_version, len(value),
                             _Opaque(at, stamps, {i: encode(item(value, i)) for i in others}))
        return _Mark(value, self._encode(value), 0, 0)


def apply(ops: list[Op], values: Mapping[Any, Any], assign: Callable[[Any, Any], None],
          remove: Callable[[Any], None], decode: Decode, tracked: bool = False) -> None:
    """Replay ``ops`` onto the copy whose named values are ``values``: ``assign(name, value)``
    sets a name, ``remove(name)`` drops one; tracked lists are changed in place (so they report
    the change, and a mount updates those rows only). With ``tracked``, the items an ``"i"``
    operation puts into a tracked list are tracked (``track``: they were just decoded, nothing
    else holds them), as the caller's ``assign`` tracks whole values: the copy's own deltas
    are then as cheap as the original's."""
    item = track if tracked else _same
    for op in ops:
        kind, name = op[0], op[1]
        if kind == "=":
            assign(name, decode(op[2]))
        elif kind == "-":
            remove(name)
        elif kind == "i":
            target = values.get(name)
            length, changed, appended = op[2], op[3], op[4]
            if not isinstance(target, list) or len(target) != length:
                raise DeltaMismatch(f"{name!r} does not have the {length} items the delta"
                                    " starts from")
            wrap = item if type(target) is TrackedList else _same
            for index, blob in changed:
                target[index] = wrap(decode(blob))
            if appended:
                target.extend(wrap(decode(blob)) for blob in appended)
        else:
            raise DeltaMismatch(f"unknown delta operation {kind!r}")


def _same(value: Any) -> Any:
    return value
