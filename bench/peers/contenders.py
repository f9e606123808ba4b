"""The four ways of serving one action, each as a page that holds what its server holds.

Every page has ``step(touched) -> str`` (what the server does after the action: the measured
part, returning the text it sends) and ``html()`` (the page as its browser now shows it, after
applying every answer sent so far: the correctness check compares it with Jinja2's render).

- ``LiveTemplate``: ``Mounted.update(data)`` (no ``changed=`` hint: the engine finds the change
  in the data as the action left it) + compact JSON in the web layer's ``{"tree", "meta"}``
  envelope; the browser side is ``lt_engine.apply_update``
  on a JSON copy of the mounted tree.
- ``pyview``: what its WebSocket handler does per event after the user's handler: render the
  template to a Phoenix tree, ``calc_diff`` against the previous tree, ``json.dumps`` the
  ``phx_reply``.  The browser side merges diffs into the tree the way Phoenix's client does.
- ``Jinja2``: re-render the whole page (what a classic or "hx-boost" server sends).
- ``htmx``: a hand-written handler that knows which fragments changed and renders only those
  partials with Jinja2 (``hx-swap-oob``); the browser side splices them into the page.
"""

from __future__ import annotations

import json
from typing import Any

import jinja2

import lt_engine
from bench.peers.workloads import Data, PeerWorkload, Swap, cut_partials, to_ibis
from bench.workloads import compact_json

try:  # the optional ``peers`` extra
    from pyview.template.render_diff import calc_diff
    from pyview.vendor.ibis import Template as IbisTemplate
except ImportError:  # pragma: no cover - reported by bench.peers as a missing contender
    calc_diff = IbisTemplate = None


def jinja2_env(**kwargs: Any) -> jinja2.Environment:
    return jinja2.Environment(autoescape=True, **kwargs)  # the oracle configuration


class LtPage:
    name = "LiveTemplate"

    def __init__(self, wl: PeerWorkload, data: Data, template: Any) -> None:
        self.data = data
        self.mounted = template.mount(data)
        self.client = json.loads(compact_json(self.mounted.tree))

    def step(self, touched: Any) -> str:
        # The web layer's envelope, as pyview's answer carries its own.
        return compact_json({"tree": self.mounted.update(self.data), "meta": {}})

    def receive(self, payload: str) -> None:
        result = lt_engine.apply_update(self.client, json.loads(payload)["tree"])
        if result is not None:
            self.client = result

    def html(self) -> str:
        return lt_engine.to_html(self.client)


class PyviewPage:
    name = "pyview"
    TOPIC = "lv:phx-bench"

    def __init__(self, wl: PeerWorkload, data: Data, template: Any) -> None:
        self.data = data
        self.template = template
        self.prev = template.tree(data)
        self.client = json.loads(json.dumps(self.prev))
        self.ref = 0

    def step(self, touched: Any) -> str:
        tree = self.template.tree(self.data)
        diff = calc_diff(self.prev, tree)
        self.prev = tree
        self.ref += 1
        return json.dumps(["4", str(self.ref), self.TOPIC, "phx_reply",
                           {"response": {"diff": diff}, "status": "ok"}])

    def receive(self, payload: str) -> None:
        self.client = merge_phoenix(self.client, json.loads(payload)[4]["response"]["diff"])

    def html(self) -> str:
        return join_phoenix(self.client)


class Jinja2Page:
    name = "Jinja2 re-render"

    def __init__(self, wl: PeerWorkload, data: Data, template: Any) -> None:
        self.data = data
        self.template = template
        self.shown = template.render(data)

    def step(self, touched: Any) -> str:
        return self.template.render(self.data)

    def receive(self, payload: str) -> None:
        self.shown = payload

    def html(self) -> str:
        return self.shown


class HtmxPage:
    name = "htmx fragments"

    def __init__(self, wl: PeerWorkload, data: Data, env: jinja2.Environment) -> None:
        self.wl = wl
        self.data = data
        self.partials = {name: env.get_template(name) for name in wl.partials}
        self.shown = env.get_template("page").render(data)
        self.swaps: list[Swap] = []

    def step(self, touched: Any) -> str:
        swaps = self.wl.swaps(self.data, touched)
        self.swaps = swaps
        partials = self.partials
        return "".join(partials[name].render(ctx) for _, _, _, name, ctx in swaps)

    def receive(self, payload: str) -> None:
        # The answer's fragments in order: re-render them to split the payload (check only).
        for how, start, n, name, ctx in self.swaps:
            fragment = self.partials[name].render(ctx)
            if not payload.startswith(fragment):
                raise AssertionError(f"{self.wl.label}: htmx answer out of order")
            payload = payload[len(fragment):]
            self.shown = splice(self.shown, how, start, n, fragment)

    def html(self) -> str:
        return self.shown


CONTENDERS = ("LiveTemplate", "pyview", "Jinja2 re-render", "htmx fragments")


class Contender:
    """Compiles a workload's sources once per contender and makes its pages."""

    def __init__(self, name: str, wl: PeerWorkload) -> None:
        self.name = name
        self.wl = wl
        if name == "LiveTemplate":
            self.template: Any = lt_engine.Environment().from_string(wl.template)
        elif name == "pyview":
            if IbisTemplate is None:
                raise RuntimeError("pyview is not installed: pip install -e '.[peers]'")
            self.template = IbisTemplate(to_ibis(wl.template), template_id=wl.key)
        elif name == "Jinja2 re-render":
            self.template = jinja2_env().from_string(wl.template)
        elif name == "htmx fragments":
            self.template = jinja2_env(loader=jinja2.DictLoader(cut_partials(wl)))
        else:
            raise ValueError(f"unknown contender {name!r}")

    def page(self, data: Data) -> Any:
        kind = {"LiveTemplate": LtPage, "pyview": PyviewPage, "Jinja2 re-render": Jinja2Page,
                "htmx fragments": HtmxPage}[self.name]
        return kind(self.wl, data, self.template)


# --- the browser sides of pyview and htmx (for the correctness check only) ---------------------


def join_phoenix(node: Any) -> str:
    """HTML of a Phoenix rendered tree: statics ``s`` around numbered dynamics; ``d`` = rows."""
    if isinstance(node, str):
        return node
    statics = node["s"]
    if "d" in node:
        return "".join(_join(statics, row) for row in node["d"])
    return _join(statics, [node[str(i)] for i in range(len(statics) - 1)])


def _join(statics: list[str], dynamics: list[Any]) -> str:
    out = [statics[0]]
    for dyn, static in zip(dynamics, statics[1:], strict=True):
        out.append(join_phoenix(dyn))
        out.append(static)
    return "".join(out)


def merge_phoenix(tree: Any, diff: Any) -> Any:
    """Phoenix's client rule: a diff with statics replaces; ``d`` replaces the rows; else merge."""
    if not isinstance(diff, dict) or not isinstance(tree, dict) or "s" in diff:
        return diff
    if "d" in diff:
        return {**tree, "d": diff["d"]}
    merged = dict(tree)
    for key, value in diff.items():
        merged[key] = merge_phoenix(tree.get(key), value)
    return merged


def splice(html: str, how: str, start: str, n: int, fragment: str) -> str:
    """Apply one swap: the ``n``-th element opening with ``start`` (no same-tag nesting here)."""
    at = -1
    for _ in range(n + 1):
        at = html.index(start, at + 1)
    tag = start[1:].split(" ", 1)[0]
    end = html.index(f"</{tag}>", at)
    if how == "outer":
        return html[:at] + fragment + html[end + len(tag) + 3:]
    if how == "beforeend":
        return html[:end] + fragment + html[end:]
    raise ValueError(how)
