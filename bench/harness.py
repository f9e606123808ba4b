"""What one measured round does, shared by the pytest-benchmark suite and ``bench.report``.

Both sides of every comparison pay for the user's action, so the figures are "cost per action as
the server sees it": Jinja2 = action + full re-render to an HTML string; LiveTemplate = action +
``Mounted.update`` + compact ``json.dumps`` of the update (the bytes that go on the wire).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import jinja2

from bench.workloads import Data, Workload, compact_json

SEP = (",", ":")


class CorrectnessError(Exception):
    """The engine produced output that differs from Jinja2's (or an impossible update)."""


def jinja2_env() -> jinja2.Environment:
    # The oracle configuration from DESIGN.md: autoescape on, everything else default.
    return jinja2.Environment(autoescape=True)


class Jinja2Page:
    """A page served the classic way: the data, re-rendered in full after every action."""

    def __init__(self, workload: Workload, template: jinja2.Template, seed: int = 0) -> None:
        self.workload = workload
        self.template = template
        self.data: Data = workload.build()
        self.rng = random.Random(seed)


class LtPage:
    """A mounted LiveTemplate page plus the client's copy of the tree.

    The client copy is made by a JSON round trip of the mounted tree, exactly what a browser
    receives on connect, so applying the updates to it checks the wire format end to end.
    """

    def __init__(self, workload: Workload, template: Any, seed: int = 0) -> None:
        self.workload = workload
        self.template = template
        self.data: Data = workload.build()
        self.rng = random.Random(seed)
        self.mounted = template.mount(self.data)
        self.client_tree: Any = json.loads(compact_json(self.mounted.tree))
        if workload.undo is not None:
            # Prime with one action and its undo: the data is back to the built state, but the
            # page has done what any long-lived page has done (e.g. lazily built key indexes).
            # The client follows along, so these first updates are checked too.
            undo = workload.undo
            for change in (lambda: workload.action(self.data, self.rng), lambda: undo(self.data)):
                names = change()  # mutate, then update: one at a time
                payload = compact_json(self.mounted.update(self.data, changed=names))
                if payload == "{}":
                    raise CorrectnessError(f"{workload.label}: priming update sent {{}}")
                self.client_tree = apply_payload(self.client_tree, payload)


def jinja2_step(workload: Workload) -> Callable[[Jinja2Page], str]:
    """One round on the Jinja2 side: the action, then the full page render."""
    action = workload.action

    def step(page: Jinja2Page) -> str:
        action(page.data, page.rng)
        return page.template.render(page.data)

    return step


def lt_step(workload: Workload, with_changed: bool) -> Callable[[LtPage], str]:
    """One round on the LiveTemplate side: action, minimal update, wire encoding.

    ``with_changed`` passes the action's set of changed names; without it the engine must find
    the changes itself (plain dicts mutated in place, the auto-detect path).
    """
    action = workload.action
    dumps = compact_json

    if with_changed:

        def step(page: LtPage) -> str:
            names = action(page.data, page.rng)
            return dumps(page.mounted.update(page.data, changed=names))

    else:

        def step(page: LtPage) -> str:
            action(page.data, page.rng)
            return dumps(page.mounted.update(page.data))

    return step


def apply_payload(tree: Any, payload: str) -> Any:
    """Apply one wire update to a client tree; tolerate an in-place or a returning apply."""
    import lt_engine  # here, not at the top: the Jinja2 side must work without the engine

    result = lt_engine.apply_update(tree, json.loads(payload))
    return tree if result is None else result


def first_difference(a: str, b: str, context: int = 60) -> str:
    """A readable pointer to where two HTML strings diverge, for correctness failures."""
    n = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    lo = max(0, n - context)
    return (
        f"first difference at offset {n} (lengths {len(a)} vs {len(b)}):\n"
        f"  got:      {a[lo : n + context]!r}\n"
        f"  expected: {b[lo : n + context]!r}"
    )
