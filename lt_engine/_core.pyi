"""Types of the Cython core (``_core.pyx`` and its ``.pxi`` parts), as Python code sees them.

The contract between the generated template modules (:mod:`lt_engine.codegen` writes them) and
the core: the descriptor classes a module's ``build()`` constructs, by keyword, and what
:mod:`lt_engine.environment` and :mod:`lt_engine.runtime` call.  Keep it in step with the
``def __init__`` signatures of ``_descriptors.pxi``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Mapping
from typing import Any

from jinja2 import Undefined as Undefined

Frames = list[list[Any]]  # ``S``: the frame stack of generated code
Masks = tuple[tuple[int, int], ...]  # ((scope level, leaf bit mask), ...)

MISSING: object
UNSTABLE: object
LOOP_ATTR_CODES: dict[str, int]
DICT_ATTRS: frozenset[str]
SLOT_KEYS: tuple[str, ...]

class Entry:
    kind: int
    index: int
    masks: Masks
    volatile: bool

class ExprDesc(Entry):
    fn: Callable[[Frames], Any]
    escape: bool
    same_as: int
    def __init__(self, index: int, fn: Callable[[Frames], Any], masks: Masks, volatile: bool,
                 escape: bool, same_as: int = -1) -> None: ...

class IfDesc(Entry):
    tests: tuple[Callable[[Frames], Any], ...]
    branches: tuple[NodeDesc, ...]
    def __init__(self, index: int, tests: tuple[Callable[[Frames], Any], ...],
                 branches: tuple[NodeDesc, ...], masks: Masks, volatile: bool) -> None: ...

class LeafDesc:
    root: int
    steps: tuple[tuple[int, Any, bool], ...]
    loop_attr: int
    def __init__(self, root: int, steps: tuple[tuple[int, Any], ...],
                 loop_attr: str | None = None) -> None: ...

class ForDesc(Entry):
    level: int
    iter_fn: Callable[[Frames], Any]
    target_fn: Callable[[Any, list[Any]], None] | None
    target_reg: int
    filter_fn: Callable[[Frames], Any] | None
    frame_size: int
    loop_reg: int
    body: NodeDesc
    leaves: tuple[LeafDesc, ...]
    sequential: bool
    body_outer: Masks
    key_slot: int
    loop_factory: Callable[[list[Any]], Any]
    def __init__(self, index: int, level: int, iter_fn: Callable[[Frames], Any],
                 target_fn: Callable[[Any, list[Any]], None] | None, target_reg: int,
                 filter_fn: Callable[[Frames], Any] | None, frame_size: int, loop_reg: int,
                 body: NodeDesc, leaves: tuple[LeafDesc, ...], sequential: bool, masks: Masks,
                 body_outer: Masks, volatile: bool, key_slot: int,
                 loop_factory: Callable[[list[Any]], Any]) -> None: ...

class StreamDesc(ForDesc):
    """A ``stream("name")`` loop (lt_engine.streams): updated by the stream's changes only."""

class ComponentDesc(ExprDesc):
    """A ``{{ component(obj) }}`` slot (lt_engine.components): holds obj's own mount's node."""

class ElseDesc(Entry):
    body: NodeDesc
    def __init__(self, index: int, body: NodeDesc) -> None: ...

class BindDesc(Entry):
    level: int
    reg: int
    fn: Callable[[Frames], Any]
    def __init__(self, level: int, reg: int, fn: Callable[[Frames], Any]) -> None: ...

class EffectDesc(Entry):
    fn: Callable[[Frames], Any]
    def __init__(self, fn: Callable[[Frames], Any]) -> None: ...

class NodeDesc:
    statics: tuple[str, ...]
    program: tuple[Entry, ...]
    slots: tuple[Entry, ...]
    nslots: int
    masks: Masks
    volatile: bool
    id: int
    def __init__(self, statics: tuple[str, ...], program: tuple[Entry, ...], masks: Masks,
                 volatile: bool, node_id: int = 0) -> None: ...

class TemplateDesc:
    root: NodeDesc
    top_names: tuple[tuple[int, str], ...]
    top_frame_size: int
    leaves: tuple[LeafDesc, ...]
    runtime: Any
    name: str
    def __init__(self, root: NodeDesc, top_names: tuple[tuple[int, str], ...],
                 top_frame_size: int, leaves: tuple[LeafDesc, ...], runtime: Any,
                 name: str) -> None: ...
    def top_frame(self, data: Mapping[str, Any]) -> list[Any]: ...
    def render(self, data: Mapping[str, Any]) -> str: ...
    def mount(self, data: Mapping[str, Any]) -> Mount: ...

class Mount:
    template: TemplateDesc
    leaves: tuple[Any, ...]
    def __init__(self, template: TemplateDesc, data: Mapping[str, Any]) -> None: ...
    @property
    def tree(self) -> dict[str, Any]: ...
    def html(self) -> str: ...
    def update(self, data: Mapping[str, Any],
               changed: Collection[str] | None = None) -> dict[str, Any]: ...
    def shows(self, component: Mount) -> bool: ...
    def component_update(self, component: Mount, data: Mapping[str, Any]) -> dict[str, Any]: ...

def render_node_html(d: NodeDesc, S: Frames) -> str: ...
def make_accessors(env: Any) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any],
                                      Callable[[Any, Any], Any]]: ...

# For lt_engine.journal (_stamps.pxi): the version of a dict of scalars, the indices whose dict
# moved from its stamp, how many places of a list hold one object, a list's opaque items.
def dict_stamp(value: Any) -> int: ...
def restamped(items: list[Any], at: array[int], stamps: array[int]) -> list[int]: ...
def held(items: list[Any], value: Any) -> int: ...
def opaque_scan(items: list[Any], unseen: Callable[[Any], bool]
                ) -> tuple[array[int], array[int], list[int], bool]: ...
