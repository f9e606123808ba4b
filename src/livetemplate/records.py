"""How a page's record travels to its store and back: the codec the page path holds.

Two codecs, one per kind of store (``PageStore.in_process``):

- :class:`Live`, for the in-process store: a record is the page's own :class:`PageRecord`
  object; every version is that object, whole (nothing is copied or pickled).
- :class:`Sealed`, for a store outside the process (Redis): what an action changed, as a sealed
  **delta** (``lt_engine.journal``: the names whose values changed; for a tracked list, the rows
  that changed and the rows appended), and now and then a sealed **snapshot** of the whole record
  (``livetemplate.snapshot``). A snapshot is written when the deltas stored since the last one
  add up to more bytes than it (so the store holds at most about twice a snapshot, and a
  snapshot's cost is spread over at least as many bytes of changes), after ``MAX_DELTAS``
  deltas (a process catching up never replays more), and when the data model object itself was
  replaced. Every delta and snapshot is signed as records always were: a process unpickles only
  what this application's processes wrote.

The page's :class:`~livetemplate.page.Stored` state holds what a codec keeps per page
(``Stored.codec``): the journal's marks, the size of the last snapshot.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any, Protocol

from lt_engine import track
from lt_engine.journal import DeltaMismatch, Journal, apply

from .errors import PageConflict
from .snapshot import Opened, Sealer
from .store import Catchup, PageRecord, Update

MAX_DELTAS = 1000  # deltas after a snapshot, at most
DELTA_FORMAT = 1
_MODEL = ("m*",)  # the name of a whole data model whose class pickles itself its own way
_ERRORS = ("e",)


class Target(Protocol):
    """The page a codec loads a stored record into."""

    record: PageRecord

    def _take(self, data: dict[str, Any], model: Any) -> None: ...


class Live:
    """The codec of the in-process store."""

    def check(self, model: Any) -> None:
        pass  # any object can be kept

    def first(self, record: PageRecord, stored: Any) -> tuple[Any, Any]:
        """The body of ``create`` and what the codec keeps for the page."""
        return record, Update(True, record)  # the same update every time: nothing to build

    def update(self, record: PageRecord, kept: Any) -> tuple[Update | None, Any]:
        return kept, kept

    def unsaved(self, record: PageRecord, kept: Any) -> bool:
        return False  # what the page holds is what the store holds

    def load(self, page_id: str, catchup: Catchup, page: Target, kept: Any,
             fresh: bool = False) -> Any:
        """Another Application on the same store changed the page: take its record's values."""
        other: PageRecord = catchup.base if catchup.base is not None else page.record
        page._take(other.data, other.model)
        page.record.errors = other.errors
        return Update(True, page.record)

    def opened(self, page_id: str, stored: PageRecord) -> Opened:
        return Opened(stored.template, stored.data, stored.model, stored.errors, stored.created)


class _Kept:
    """What :class:`Sealed` keeps per page."""

    __slots__ = ("journal", "snapshot", "since", "count", "model")

    def __init__(self, journal: Journal, snapshot: int, model: Any) -> None:
        self.journal = journal
        self.snapshot = snapshot  # bytes of the last snapshot
        self.since = 0  # bytes of the deltas stored since
        self.count = 0  # deltas stored since
        self.model = id(model)  # the data model object the marks are of


class Sealed:
    """The codec of a store of bytes: sealed snapshots and deltas."""

    def __init__(self, sealer: Sealer, track_data: bool) -> None:
        self.sealer = sealer
        self.track_data = track_data

    def check(self, model: Any) -> None:
        self.sealer.check(model)

    def first(self, record: PageRecord, stored: Any) -> tuple[bytes, _Kept]:
        sealed, _ = self.sealer.seal(record)
        journal = Journal(_encode)
        journal.mark(_roots(record))
        return sealed, _Kept(journal, len(sealed), record.model)

    def update(self, record: PageRecord, kept: _Kept) -> tuple[Update | None, _Kept]:
        """What changed since the last version, as an update (``None``: nothing)."""
        if id(record.model) != kept.model:  # a new data model object: start over whole
            sealed, kept = self.first(record, None)
            return Update(True, sealed), kept
        try:
            ops = kept.journal.delta(_roots(record))
        except Exception as exc:  # a value pickle refuses
            kept.journal.mark({})  # nothing is trusted now: the next update is whole
            raise self.sealer.unstorable(record, exc) from exc
        if not ops:
            return None, kept
        body = self.sealer.seal_bytes(pickle.dumps((DELTA_FORMAT, ops),
                                                   protocol=pickle.HIGHEST_PROTOCOL))
        if kept.since + len(body) > kept.snapshot or kept.count >= MAX_DELTAS:
            # A snapshot instead; the journal, marked by the delta, is already where it starts.
            sealed, _ = self.sealer.seal(record)
            return Update(True, sealed), _Kept(kept.journal, len(sealed), record.model)
        kept.since += len(body)
        kept.count += 1
        return Update(False, body), kept

    def unsaved(self, record: PageRecord, kept: _Kept) -> bool:
        """Whether the page holds changes not stored (made in place, outside a change)."""
        if id(record.model) != kept.model:
            return True
        try:
            return bool(kept.journal.delta(_roots(record), mark=False))
        except Exception:
            return True

    def load(self, page_id: str, catchup: Catchup, page: Target, kept: _Kept | None,
             fresh: bool = False) -> _Kept:
        """Bring ``page`` to the stored version: the snapshot (if any), then the deltas.

        ``fresh``: the page was just made from ``catchup.base``: only the deltas are left."""
        record = page.record
        size = kept.snapshot if kept is not None else 0
        if catchup.base is not None:
            size = len(catchup.base)
        if catchup.base is not None and not fresh:
            opened = self.opened(page_id, catchup.base)
            page._take(opened.data, opened.model)
            record.errors = opened.errors
        since = 0
        for sealed in catchup.deltas:
            body = self.sealer.open_bytes(page_id, sealed)
            fmt, ops = pickle.loads(body)
            if fmt != DELTA_FORMAT:
                raise PageConflict(f"a stored change of format {fmt} (this version reads"
                                   f" {DELTA_FORMAT}); every worker must run the same version")
            try:
                apply(ops, _roots(record), self._assigner(page), self._remover(record),
                      pickle.loads, self.track_data)
            except DeltaMismatch as exc:
                raise PageConflict(f"this process's copy of the page is not where the stored"
                                   f" change starts ({exc}); try again") from None
            since += len(sealed)
        journal = Journal(_encode)
        journal.mark(_roots(record))
        new = _Kept(journal, size, record.model)
        new.since = since if catchup.base is not None or kept is None else kept.since + since
        return new

    def opened(self, page_id: str, stored: bytes) -> Opened:
        return self.sealer.open(page_id, stored)[0]

    def _assigner(self, page: Target) -> Callable[[Any, Any], None]:
        record = page.record
        tracked = self.track_data

        def assign(name: Any, value: Any) -> None:
            kind = name[0]
            if kind == "d":
                record.data[name[1]] = track(value) if tracked else value
            elif kind == "m":
                setattr(record.model, name[1], value)  # a tracked model tracks it
            elif name == _ERRORS:
                record.errors = value
            elif name == _MODEL:
                page._take(record.data, value)

        return assign

    @staticmethod
    def _remover(record: PageRecord) -> Callable[[Any], None]:
        def remove(name: Any) -> None:
            if name[0] == "d":
                record.data.pop(name[1], None)
            elif name[0] == "m" and hasattr(record.model, name[1]):
                delattr(record.model, name[1])

        return remove


Codec = Live | Sealed


def _encode(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


_PLAIN: dict[type, bool] = {}


def _plain(cls: type) -> bool:
    """A class pickled as its instance ``__dict__`` (no slots, no pickling of its own): its
    attributes can travel one by one."""
    plain = _PLAIN.get(cls)
    if plain is None:
        own = ("__getstate__", "__setstate__", "__reduce__", "__reduce_ex__", "__slots__",
               "__getnewargs__", "__getnewargs_ex__")
        plain = all(name not in vars(klass) for klass in cls.__mro__[:-1] for name in own)
        _PLAIN[cls] = plain
    return plain


def _roots(record: PageRecord) -> dict[Any, Any]:
    """The record as named values: its data, its model's attributes, its errors."""
    roots: dict[Any, Any] = {("d", name): value for name, value in record.data.items()}
    model = record.model
    if model is not None:
        state = getattr(model, "__dict__", None)
        if state is not None and _plain(model.__class__):
            for name, value in state.items():
                roots[("m", name)] = value
        else:
            roots[_MODEL] = model
    roots[_ERRORS] = record.errors
    return roots
