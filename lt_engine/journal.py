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

Any other value is compared by its encoding (the blob of the mark against the blob now): small
values cost little, and a large value that is not a tracked list costs its size, as before.

:func:`apply` replays a delta onto a copy that was at the same mark; an ``"i"`` operation whose
list does not have ``length`` items raises :class:`DeltaMismatch` (the copy was not where the
delta starts: start over from a whole copy).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .tracked import TrackedList

Encode = Callable[[Any], bytes]
Decode = Callable[[bytes], Any]
Op = tuple[Any, ...]


class DeltaMismatch(Exception):
    """A delta does not start where the copy it was applied to is."""


class _Mark:
    __slots__ = ("value", "blob", "version", "length")

    def __init__(self, value: Any, blob: bytes | None, version: int, length: int) -> None:
        self.value = value  # the object the name held (for tracked lists: the same list?)
        self.blob = blob  # its encoding, for values compared by encoding
        self.version = version  # a tracked list's version at the mark
        self.length = length


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
                changes = value.lt_changes_since(old.version)
                if changes is not None and changes[1] == old.length:
                    indices, length = changes
                    if indices or len(value) != length:
                        ops.append(("i", name, length,
                                    [(i, encode(list.__getitem__(value, i))) for i in indices],
                                    [encode(v) for v in list.__getitem__(value,
                                                                         slice(length, None))]))
                    new[name] = _Mark(value, None, value.lt_version, len(value))
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

    def _mark_of(self, value: Any) -> _Mark:
        if type(value) is TrackedList and not value._lt_opaque:
            # Trusted to report its own changes: no encoding kept.
            return _Mark(value, None, value.lt_version, len(value))
        return _Mark(value, self._encode(value), 0, 0)


def apply(ops: list[Op], values: Mapping[Any, Any], assign: Callable[[Any, Any], None],
          remove: Callable[[Any], None], decode: Decode) -> None:
    """Replay ``ops`` onto the copy whose named values are ``values``: ``assign(name, value)``
    sets a name, ``remove(name)`` drops one; tracked lists are changed in place (so they report
    the change, and a mount updates those rows only)."""
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
            for index, blob in changed:
                target[index] = decode(blob)
            if appended:
                target.extend(decode(blob) for blob in appended)
        else:
            raise DeltaMismatch(f"unknown delta operation {kind!r}")
