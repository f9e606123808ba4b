"""The wire format: key names, and the reference merge the browser client mirrors.

One table of names, used by the diff core (``_core.pyx``), this reference merge and, by copy,
``livetemplate-client.js``.  ``docs/protocol.md`` is the normative description with examples.

A *node* is ``{"s": [statics…], "0": slot, "1": slot, …}``; a slot holds a string, a node, or
a *range* ``{"s": item statics, "d": [item dynamics…], "m": {"idKey": "0"}}``.  An *update* holds
only the changed slots; a changed range is a list of ops (see ``OP_*``) or a whole new range.
"""

from __future__ import annotations

import copy
import re
from typing import Any

STATICS = "s"
ITEMS = "d"
META = "m"
ID_KEY = "idKey"
KEY = "_k"
# In a range's "m": the range is a stream (lt_engine.streams); the value is its limit, 0 for none.
STREAM = "stream"

OP_REMOVE = "r"  # ["r", key]
OP_UPDATE = "u"  # ["u", key, {slot: change}]
OP_APPEND = "a"  # ["a", [items], statics?]
OP_PREPEND = "p"  # ["p", [items], statics?]
OP_INSERT = "i"  # ["i", after_key, item]
OP_REORDER = "o"  # ["o", [keys]]  (every remaining key, in the new order)

# Item keys.  An item's key is the value of the slot inside the first key attribute of its
# statics, with or without static text around it: data-key="{{ t.id }}", id="todo-{{ t.id }}",
# data-key='row-{{ r.id }}-x'.  The rule is these two patterns (the text before the slot ends
# inside the attribute's value; the text after it closes the value with the same quote), copied
# verbatim into livetemplate-client.js, which finds a row's element by the same rule
# (tests/test_client_js.py checks the copy).
KEY_HEAD = r"""(?:^|\s)(data-key|data-lvt-key|id|key)=(["'])([^"'<>]*)$"""
KEY_TAIL = r"""^([^"'<>]*)(["'])"""
_KEY_HEAD = re.compile(KEY_HEAD)
_KEY_TAIL = re.compile(KEY_TAIL)

Tree = dict[str, Any]


def key_attribute(before: str, after: str) -> tuple[str, str, str] | None:
    """``(attribute, prefix, suffix)`` when a slot between the static texts ``before`` and
    ``after`` is the whole dynamic part of a key attribute's value; else None."""
    head = _KEY_HEAD.search(before)
    if head is None:
        return None
    tail = _KEY_TAIL.match(after)
    if tail is None or tail.group(2) != head.group(2):
        return None
    return head.group(1), head.group(3), tail.group(1)


def opens_key_attribute(before: str) -> bool:
    """Whether the static text ``before`` a slot ends inside a key attribute's value."""
    return _KEY_HEAD.search(before) is not None


class ProtocolError(ValueError):
    """An update that does not apply to the tree it was sent for."""


def item_key(rng: Tree, item: Tree) -> str:
    """The key of a range item: its ``_k``, else the slot named by the range's ``m.idKey``."""
    if KEY in item:
        return item[KEY]
    meta = rng.get(META)
    if not meta or ID_KEY not in meta:
        raise ProtocolError("range item without a key ('_k') in a range without 'm.idKey'")
    return item[meta[ID_KEY]]


def is_range(value: Any) -> bool:
    return isinstance(value, dict) and ITEMS in value


def apply_update(tree: Tree, update: Tree) -> Tree:
    """Merge ``update`` into ``tree`` (mutating it) and return it: what the client does."""
    for slot, change in update.items():
        if slot == STATICS:
            continue
        tree[slot] = _apply_change(tree.get(slot), change)
    return tree


def _apply_change(current: Any, change: Any) -> Any:
    if isinstance(change, str):
        return change
    if isinstance(change, list):
        if not is_range(current):
            raise ProtocolError("range ops sent for a slot that holds no range")
        apply_ops(current, change)
        return current
    if isinstance(change, dict):
        if STATICS in change:  # a whole new node or range
            return change
        if not isinstance(current, dict):
            raise ProtocolError("a partial node change sent for a slot that holds no node")
        return apply_update(current, change)
    raise ProtocolError(f"unexpected change of type {type(change).__name__}")


def stream_limit(rng: Tree) -> int | None:
    """None for a range that is no stream; else its limit (0: none)."""
    meta = rng.get(META)
    return meta.get(STREAM) if meta else None


def _upsert(rng: Tree, items: list[Tree], new: list[Tree]) -> list[Tree]:
    """An inserted item whose key the range has replaces that item where it stands (streams
    insert so; the diff of other ranges never sends a key twice): the others, to insert."""
    where = {item_key(rng, it): i for i, it in enumerate(items)}
    fresh: list[Tree] = []
    for it in new:  # (a key twice in ``new``: the later one wins, in the earlier's place)
        key = item_key(rng, it)
        i = where.get(key)
        if i is None:
            where[key] = -1 - len(fresh)
            fresh.append(it)
        elif i >= 0:
            items[i] = it
        else:
            fresh[-1 - i] = it
    return fresh


def apply_ops(rng: Tree, ops: list[Any]) -> None:
    """Apply range ops to the range ``rng`` (mutating it)."""
    items: list[Tree] = rng[ITEMS]
    limit = stream_limit(rng)
    for op in ops:
        kind = op[0]
        if kind == OP_REMOVE:
            items[:] = [it for it in items if item_key(rng, it) != op[1]]
        elif kind == OP_UPDATE:
            if limit is not None and not any(item_key(rng, it) == op[1] for it in items):
                continue  # a stream's item the client no longer has
            target = _find(rng, items, op[1])
            apply_update(items[target], op[2])
        elif kind in (OP_APPEND, OP_PREPEND):
            if len(op) > 2 and op[2] is not None:
                rng[STATICS] = op[2]
            fresh = _upsert(rng, items, op[1])
            if kind == OP_APPEND:
                items.extend(fresh)
                if limit and len(items) > limit:
                    del items[:len(items) - limit]
            else:
                items[:0] = fresh
                if limit:
                    del items[limit:]
        elif kind == OP_INSERT:
            target = _find(rng, items, op[1])
            items.insert(target + 1, op[2])
        elif kind == OP_REORDER:
            by_key = {item_key(rng, it): it for it in items}
            if set(by_key) != set(op[1]) or len(op[1]) != len(items):
                raise ProtocolError("reorder must list every remaining key exactly once")
            items[:] = [by_key[k] for k in op[1]]
        else:
            raise ProtocolError(f"unknown range op {kind!r}")


def _find(rng: Tree, items: list[Tree], key: str) -> int:
    for i, it in enumerate(items):
        if item_key(rng, it) == key:
            return i
    raise ProtocolError(f"no range item with key {key!r}")


def to_html(tree: Tree) -> str:
    """Join a tree (node or range) into HTML."""
    parts: list[str] = []
    _join(tree, parts)
    return "".join(parts)


def _join(node: Any, parts: list[str]) -> None:
    if isinstance(node, str):
        parts.append(node)
        return
    statics = node[STATICS]
    if ITEMS in node:
        for item in node[ITEMS]:
            _join_dynamics(statics, item, parts)
        return
    _join_dynamics(statics, node, parts)


def _join_dynamics(statics: list[str], values: Tree, parts: list[str]) -> None:
    parts.append(statics[0])
    for i in range(1, len(statics)):
        _join(values[str(i - 1)], parts)
        parts.append(statics[i])


def merged(tree: Tree, update: Tree) -> Tree:
    """``apply_update`` on a deep copy: the tree is left as it was."""
    return apply_update(copy.deepcopy(tree), update)
