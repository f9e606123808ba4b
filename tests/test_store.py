from __future__ import annotations

from livetemplate import MemoryStore, PageRecord


def test_memory_store_keeps_records_and_finds_idle_ones() -> None:
    store = MemoryStore()
    store.put(PageRecord(id="a", template="t", data={"n": 1}, last_seen=10.0))
    store.put(PageRecord(id="b", template="t", data={}, last_seen=20.0))
    assert len(store) == 2
    assert store.get("a") is not None and store.get("a").data == {"n": 1}  # type: ignore[union-attr]
    assert store.expired(15.0) == ["a"]
    store.touch("a", 30.0)
    assert store.expired(25.0) == ["b"]
    store.delete("b")
    store.delete("missing")
    assert store.get("b") is None and len(store) == 1
