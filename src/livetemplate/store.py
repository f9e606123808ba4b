"""Where pages live between requests: a small store interface and the in-process default.

A store keeps :class:`PageRecord` s: what a page needs, as plain data (template name, data,
data model, validation errors, timestamps). The live half of a page — the mounted slot tree and
the open connections — belongs to one process and is rebuilt from the record (by re-mounting)
when a process sees the page for the first time, so a store that keeps records outside the
process (Redis) only has to serialize ``data`` and ``model``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any


@dataclass
class PageRecord:
    id: str
    template: str
    data: dict[str, Any]
    model: Any = None
    errors: dict[str, str] = field(default_factory=dict)
    created: float = 0.0
    last_seen: float = 0.0


class PageStore(ABC):
    """Five operations; every one takes or returns plain records or ids."""

    @abstractmethod
    def get(self, page_id: str) -> PageRecord | None: ...

    @abstractmethod
    def put(self, record: PageRecord) -> None: ...

    @abstractmethod
    def delete(self, page_id: str) -> None: ...

    @abstractmethod
    def expired(self, idle_since: float) -> list[str]:
        """Ids of the pages last seen before ``idle_since`` (the caller deletes them)."""

    @abstractmethod
    def __len__(self) -> int: ...

    def touch(self, page_id: str, now: float) -> None:
        record = self.get(page_id)
        if record is not None:
            record.last_seen = now
            self.put(record)


class MemoryStore(PageStore):
    """Records in a dict of this process: nothing to start, nothing shared between workers."""

    def __init__(self) -> None:
        self._records: dict[str, PageRecord] = {}

    def get(self, page_id: str) -> PageRecord | None:
        return self._records.get(page_id)

    def put(self, record: PageRecord) -> None:
        self._records[record.id] = record

    def delete(self, page_id: str) -> None:
        self._records.pop(page_id, None)

    def expired(self, idle_since: float) -> list[str]:
        return [pid for pid, rec in self._records.items() if rec.last_seen < idle_since]

    def touch(self, page_id: str, now: float) -> None:
        record = self._records.get(page_id)
        if record is not None:
            record.last_seen = now

    def __len__(self) -> int:
        return len(self._records)
