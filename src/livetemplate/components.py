"""Live components: a piece of a page with its own template, state and actions.

A component is an object whose class names its template (``template = "row"``); its public
attributes are what that template sees (plus ``myself``, its id) and its public methods are its
actions, as a page's data model.  The page's template shows it with ``{{ component(obj) }}``;
the component's template marks the element whose actions go to it with
``lvt-target="{{ myself }}"`` (the client sends ``"target"`` with every action from inside).

An action addressed to a component runs on it and re-evaluates only it: the reply is the
component's own minimal update, addressed to where the page shows it (``lt_engine.components``).
The page's other data is not read; when a component action changes the page's data too, call
``ctx.page.update()``.  A page update still reaches its components (they update as slots of the
page, each by its own change tracking).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from lt_engine import components as engine

from . import navigation, protocol
from .errors import ClientError

if TYPE_CHECKING:
    from lt_engine import Mount

    from .actions import ActionContext

class Component:
    """An optional base class for components: names the template, and keeps the engine's mount
    out of pickles (a page stored in Redis pickles its model)."""

    template: ClassVar[str]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop(engine.MOUNT_ATTR, None)
        state.pop(engine.TEMPLATE_USED_ATTR, None)
        return state


def resolve(page: Mount, target: str) -> Any:
    """The component ``target`` names, if the page shows it."""
    obj = engine.find(target)
    if obj is None or not engine.shown_in(page, obj):
        raise ClientError("unknown_component", f"this page shows no component {target!r} (it may"
                                               " have been removed by an update)")
    return obj


def update(page: Mount, obj: Any) -> dict[str, Any]:
    """After a component action: its own update, as an update of the page's tree."""
    return engine.update_in(page, obj)


def outcome(obj: Any, ctx: ActionContext, result: Any, errors: Mapping[str, str]) -> dict[str, Any]:
    """After a component action: a mapping it returned assigned to the component; the reply's
    ``meta`` (its errors are the component's to show, not the page's; a flash goes with a
    navigation or a redirect only, the page is not re-rendered to show one)."""
    if result is not None and isinstance(result, Mapping):
        for name, value in result.items():
            setattr(obj, name, value)
    meta = {"action": ctx.action, "success": not errors, "errors": dict(errors),
            protocol.TARGET: engine.cid_of(obj)}
    navigation.outcome_meta(ctx, meta)  # ctx.patch, ctx.navigate, ctx.redirect as for the page's
    if ctx.events:
        meta[protocol.EVENTS] = ctx.events
    return meta
