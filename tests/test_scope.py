"""Name resolution: registers per level, barriers of blocks and includes, leaves."""

from __future__ import annotations

from lt_engine.ir import Leaf
from lt_engine.scope import Scopes


def test_top_names_get_registers_on_first_use() -> None:
    scopes = Scopes()
    a = scopes.lookup("a")
    assert (a.kind, a.level, a.reg) == ("top", 0, 1)
    assert scopes.lookup("a") is a
    assert scopes.lookup("b").reg == 2


def test_loop_level_shadows_and_pops() -> None:
    scopes = Scopes()
    scopes.push_level("loop")
    t = scopes.define("t", "var")
    assert scopes.lookup("t") is t and t.code == "S[1][0]"
    scopes.pop()
    assert scopes.lookup("t").kind == "top"


def test_block_barrier_hides_loop_variables_but_not_top_bindings() -> None:
    scopes = Scopes()
    title = scopes.define("title", "bind")
    scopes.push_level("loop")
    scopes.define("t", "var")
    scopes.push_layer(barrier="block")
    assert scopes.lookup("t").kind == "top"
    assert scopes.lookup("title") is title


def test_globals_barrier_hides_everything() -> None:
    scopes = Scopes()
    scopes.define("x", "bind")
    scopes.push_layer(barrier="globals")
    assert scopes.lookup("x").kind == "global"


def test_path_deps_register_leaves_once() -> None:
    scopes = Scopes()
    ref = scopes.lookup("user")
    one = scopes.path_deps(ref, ((0, "name"),))
    two = scopes.path_deps(ref, ((0, "name"),))
    assert one.masks == two.masks == {0: 1}
    assert scopes.top.leaves == [Leaf(ref.reg, ((0, "name"),))]


def test_loop_positions_are_leaves_and_neighbours_are_volatile() -> None:
    scopes = Scopes()
    scopes.push_level("loop")
    loop = scopes.define("loop", "loop")
    assert scopes.path_deps(loop, ((0, "index"),)).masks == {1: 1}
    assert scopes.path_deps(loop, ((0, "previtem"),)).volatile
    assert scopes.level.sequential
