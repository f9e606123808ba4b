"""Name resolution for the compiler: which register holds a name, and which leaves it watches.

At run time every scope instance has a *frame*, a Python list; ``S`` is the stack of frames
(``S[0]`` is the template's top level, one more per enclosing ``{% for %}`` or macro call).  The
compiler resolves every name to ``S[level][register]`` so generated code never looks names up by
string.  Layers model jinja2's scoping: ``{% with %}``, includes and blocks add layers inside a
level; a non-``scoped`` block puts a barrier that hides enclosing loop and ``with`` variables, as
jinja2 does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ir import ATTR, ITEM, Deps, Leaf

# Attributes of ``loop`` derived from the position alone: tracked as leaves, never read.
LOOP_POSITION_ATTRS = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0"}
)


@dataclass
class Ref:
    """What a name means at one point of the template."""

    kind: str  # "top" | "var" (loop target) | "loop" | "bind" | "global" | "macroarg"
    level: int
    reg: int
    name: str
    deps: Deps | None = None  # for bindings: what the bound value was computed from
    alias: tuple[Ref, tuple[tuple[int, Any], ...]] | None = None  # binding that is a plain path

    @property
    def code(self) -> str:
        return f"S[{self.level}][{self.reg}]"

    def bind(self, deps: Deps) -> None:
        """The bound value is (also) computed from ``deps``."""
        if self.deps is None:
            self.deps = Deps()
        self.deps.add(deps)


@dataclass
class Level:
    """One frame: the top level, a loop body or a macro body."""

    index: int
    kind: str  # "top" | "loop" | "macro"
    size: int = 0
    leaves: list[Leaf] = field(default_factory=list)
    leaf_index: dict[Leaf, int] = field(default_factory=dict)
    uses_loop: bool = False
    sequential: bool = False
    # A ``{% for … recursive %}`` body: the id of its loop (its ``loop(…)`` renders the loop
    # again over other items) and what such a nested render reads outside the loop.
    recursive_id: int = -1
    recursive_deps: Deps = field(default_factory=Deps)

    def alloc(self) -> int:
        self.size += 1
        return self.size - 1

    def leaf(self, leaf: Leaf) -> int:
        idx = self.leaf_index.get(leaf)
        if idx is None:
            idx = len(self.leaves)
            self.leaves.append(leaf)
            self.leaf_index[leaf] = idx
        return idx


@dataclass
class Layer:
    level: Level
    names: dict[str, Ref] = field(default_factory=dict)
    barrier: str | None = None  # "block": only the top level shows through; "globals": nothing
    # In a branch of an {% if %}: the register each name set here is written to, so that the
    # value set by the branch taken is the one read after the if (as in jinja2).
    phi: dict[str, int] | None = None
    # Inside an {% if %} (its tests and branches, not loops or macros in them): an unknown
    # filter or test there fails only when run, as in jinja2 3.
    conditional: bool = False


class Scopes:
    """The compiler's stack of layers plus the top level's name registers."""

    def __init__(self) -> None:
        self.top = Level(0, "top")
        self.top.alloc()  # register 0: the jinja2 Context, when the template needs one
        self.top_names: dict[str, Ref] = {}
        self.globals_refs: dict[str, Ref] = {}
        self.layers: list[Layer] = [Layer(self.top)]
        self.levels: list[Level] = [self.top]

    # -- structure

    @property
    def level(self) -> Level:
        return self.layers[-1].level

    def push_layer(self, barrier: str | None = None,
                   phi: dict[str, int] | None = None, conditional: bool = False) -> Layer:
        layer = Layer(self.level, barrier=barrier, phi=phi, conditional=conditional)
        self.layers.append(layer)
        return layer

    def push_level(self, kind: str) -> Level:
        level = Level(len(self.levels), kind)
        self.levels.append(level)
        self.layers.append(Layer(level))
        return level

    def pop(self) -> None:
        layer = self.layers.pop()
        if layer.level is not self.layers[-1].level:
            self.levels.pop()

    # -- definitions

    def define(self, name: str, kind: str, deps: Deps | None = None) -> Ref:
        level = self.level
        ref = Ref(kind, level.index, level.alloc(), name, deps)
        self.layers[-1].names[name] = ref
        return ref

    def declare(self, name: str) -> Ref:
        """A binding of ``name`` in the current layer, its deps to be added by the caller.

        In an ``{% if %}`` branch the name's register is the one shared by all branches."""
        layer = self.layers[-1]
        reg = layer.phi.get(name) if layer.phi is not None else None
        ref = Ref("bind", self.level.index, self.level.alloc() if reg is None else reg, name,
                  Deps())
        layer.names[name] = ref
        return ref

    # -- lookups

    def lookup(self, name: str) -> Ref:
        only_top = False
        for layer in reversed(self.layers):
            if only_top and layer.level is not self.top:
                continue
            ref = layer.names.get(name)
            if ref is not None:
                return ref
            if layer.barrier == "globals":
                return self._global(name)
            if layer.barrier == "block":
                only_top = True
        return self._top(name)

    def _top(self, name: str) -> Ref:
        ref = self.top_names.get(name)
        if ref is None:
            ref = Ref("top", 0, self.top.alloc(), name)
            self.top_names[name] = ref
        return ref

    def _global(self, name: str) -> Ref:
        ref = self.globals_refs.get(name)
        if ref is None:
            ref = Ref("global", 0, -1, name)
            self.globals_refs[name] = ref
        return ref

    # -- dependencies

    def path_deps(self, ref: Ref, steps: tuple[tuple[int, Any], ...]) -> Deps:
        """The deps of reading ``ref`` followed by constant attribute/item ``steps``."""
        if ref.alias is not None:
            base, base_steps = ref.alias
            return self.path_deps(base, base_steps + steps)
        deps = Deps()
        if ref.kind in ("top", "var"):
            level = self.levels[ref.level] if ref.level < len(self.levels) else None
            if level is None:  # pragma: no cover - a ref always outlives its uses
                raise AssertionError("reference to a closed scope")
            deps.add_leaf(ref.level, level.leaf(Leaf(ref.reg, steps)))
        elif ref.kind == "loop":
            level = self.levels[ref.level]
            level.uses_loop = True
            attr = steps[0][1] if steps and steps[0][0] in (ATTR, ITEM) else None
            if attr in LOOP_POSITION_ATTRS:
                deps.add_leaf(ref.level, level.leaf(Leaf(-1, (), attr)))
            elif attr == "cycle":
                deps.add_leaf(ref.level, level.leaf(Leaf(-1, (), "index0")))
            else:
                # previtem/nextitem/changed/the object itself: depends on neighbours.
                level.sequential = True
                deps.volatile = True
        elif ref.kind == "bind":
            if ref.deps is not None:
                deps.add(ref.deps)
        elif ref.kind == "macroarg":
            pass  # the call site tracks what the arguments were computed from
        return deps
