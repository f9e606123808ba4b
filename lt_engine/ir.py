"""The slot-tree IR: what the compiler produces and the code generator consumes.

A template compiles to a tree of :class:`Node` objects.  A node is a run of static strings with a
dynamic slot between each pair; its ``program`` lists, in source order, the slots and the
statements that feed them (bindings from ``{% set %}``/``{% with %}``/macros, and effects such as
``{% set ns.x = … %}``).  Every piece of Python code is kept as a source string so that the same IR
can be executed in memory or written out as an importable module (see :mod:`lt_engine.codegen`).

Change tracking lives in :class:`Deps`: for each scope level (0 = the template's top level, one
more per enclosing ``{% for %}``) a bit mask of the *leaves* a piece of code reads.  A leaf is a
data path such as ``todo.title`` whose value the runtime re-reads cheaply to decide what changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Step kinds of a leaf path, mirroring jinja2's two lookup orders.
ATTR = 0  # ``x.name``: getattr first, then item
ITEM = 1  # ``x['name']`` / ``x[0]``: item first, then getattr


@dataclass
class Deps:
    """What a piece of code reads: leaf masks per scope level, and whether it must always rerun."""

    masks: dict[int, int] = field(default_factory=dict)
    volatile: bool = False

    def add(self, other: Deps) -> None:
        for level, mask in other.masks.items():
            self.masks[level] = self.masks.get(level, 0) | mask
        self.volatile = self.volatile or other.volatile

    def add_leaf(self, level: int, index: int) -> None:
        self.masks[level] = self.masks.get(level, 0) | (1 << index)

    def outer(self, level: int) -> Deps:
        """The part of these deps that lies outside scope ``level`` (for a loop body)."""
        return Deps({lv: m for lv, m in self.masks.items() if lv < level}, self.volatile)


@dataclass(frozen=True)
class Leaf:
    """A watched data path.  ``root`` is a register of the scope's frame; ``loop_attr`` names a
    position-derived ``loop.*`` value instead (computed from index and length, not read)."""

    root: int
    steps: tuple[tuple[int, Any], ...] = ()
    loop_attr: str | None = None


@dataclass
class ExprSlot:
    code: str  # python expression over the frame stack ``S``
    deps: Deps
    autoescape: bool
    component: bool = False  # ``{{ component(obj) }}``: ``code`` is ``obj`` (lt_engine.components)


@dataclass
class IfSlot:
    tests: list[str]  # one python expression per if/elif
    tests_deps: Deps
    branches: list[Node]  # len(tests) branches, plus one for ``else`` when present
    # A branch sets names read after the if: whenever the enclosing node is revisited, the
    # branch must be chosen and its bindings run again (their registers are per update).
    assigns: bool = False


@dataclass
class ForSlot:
    level: int  # scope level of the loop body
    iter_code: str
    iter_deps: Deps
    target: str  # python source of a function (item, frame) -> None that fills the frame
    filter_code: str | None
    frame_size: int
    loop_reg: int  # register of the ``loop`` object, -1 when the body never reads it
    body: Node
    leaves: list[Leaf]
    sequential: bool  # items depend on each other (loop.changed, namespaces): no skipping
    target_reg: int = -1  # register of a plain-name target (the item itself), else -1
    recursive_id: int = -1  # ``recursive``: its descriptor is FD<id>, its else body RE<id>
    stream: bool = False  # ``{% for x in stream("name") %}``: items sent once (lt_engine.streams)


@dataclass
class ElseSlot:
    """``{% for %}…{% else %}``: the else body, shown when the range before it is empty."""

    body: Node


Slot = ExprSlot | IfSlot | ForSlot | ElseSlot


@dataclass
class Bind:
    level: int
    reg: int
    code: str
    deps: Deps


@dataclass
class Effect:
    code: str  # a python statement run in order (namespace attribute assignment)


@dataclass
class Node:
    statics: list[str]
    program: list[int | Bind | Effect]  # int = index into ``slots``
    slots: list[Slot]
    id: int = 0

    def deps(self) -> Deps:
        """Everything this node (and nested branches) reads, for pruning whole subtrees."""
        total = Deps()
        for entry in self.program:
            if isinstance(entry, Bind):
                total.add(entry.deps)
            elif isinstance(entry, Effect):
                total.volatile = True
        for slot in self.slots:
            if isinstance(slot, ExprSlot):
                total.add(slot.deps)
            elif isinstance(slot, IfSlot):
                total.add(slot.tests_deps)
                for branch in slot.branches:
                    total.add(branch.deps())
            elif isinstance(slot, ForSlot):
                total.add(slot.iter_deps)
                total.add(slot.body.deps().outer(slot.level))
                if slot.sequential:
                    total.volatile = True
            elif isinstance(slot, ElseSlot):
                total.add(slot.body.deps())
        return total


class NodeBuilder:
    """Accumulates statics and slots of one node."""

    def __init__(self) -> None:
        self.statics: list[str] = [""]
        self.slots: list[Any] = []
        self.program: list[Any] = []

    def text(self, data: str) -> None:
        self.statics[-1] += data

    def slot(self, slot: Any) -> None:
        self.program.append(len(self.slots))
        self.slots.append(slot)
        self.statics.append("")

    def build(self, node_id: int) -> Node:
        return Node(self.statics, self.program, self.slots, node_id)


@dataclass
class MacroDef:
    """A macro body rendered to a string when called (not tracked slot by slot)."""

    name: str
    level: int
    frame_size: int
    arg_regs: list[int]
    arg_names: list[str]
    defaults: list[str | None]  # python expression per argument, None when required
    caller_reg: int
    varargs_reg: int
    kwargs_reg: int
    body: Node
    autoescape: bool


@dataclass
class TemplateIR:
    """A compiled template, complete: what the code generator writes out."""

    name: str
    root: Node
    top_regs: dict[str, int]  # each top-level name read -> its register in the top frame
    top_frame_size: int
    leaves: list[Leaf]  # the top scope's leaves
    macros: list[MacroDef]  # MK[i] in generated code
    render_nodes: list[Node]  # RN[i]: render-only nodes
    consts: list[Any]  # K[i]: constants jinja2 folded that have no literal
    needs_context: bool
    source_hash: str  # of all the sources together
    dependencies: dict[str, str]  # source name -> runtime.source_hash of each source

    @property
    def top_names(self) -> list[str]:
        """The top-level names read, in register order."""
        return sorted(self.top_regs, key=self.top_regs.__getitem__)
