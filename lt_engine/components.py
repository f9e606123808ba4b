"""Components: a piece of a page with its own template, state and change tracking.

``{{ component(obj) }}`` renders ``obj``'s template (its class attribute ``template``, a
template name of the environment) with ``obj``'s public attributes, plus ``myself``: the
component's id (``cid``), which its template puts on an element as ``lvt-target="{{ myself }}"``
so the browser addresses the actions of everything inside to it.

Each component object is mounted once (its own :class:`~lt_engine.Mount`, made on first render
and kept on the object); the page's tree holds the component's root node, so the page's HTML
and full tree include it.  A page update visits a component slot like any other and asks the
component's mount for its own minimal update.  A change made to the component alone (an action
of its own) is :func:`update_in`: the component's update alone, addressed to where the page's
tree shows it (a path of slots and range item keys, ``_components.pxi``), with nothing else of
the page evaluated.
"""

from __future__ import annotations

import secrets
import weakref
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import pass_environment
from markupsafe import Markup

if TYPE_CHECKING:
    from ._core import Mount

GLOBAL_NAME = "component"  # the template function that shows a component
MYSELF = "myself"  # the name a component's template reads its own id under
TEMPLATE_ATTR = "template"
# What the engine keeps on a component object (out of its public attributes, and of pickles)
CID_ATTR = "_lt_cid"
MOUNT_ATTR = "_lt_mount"
TEMPLATE_USED_ATTR = "_lt_template"  # the template object the mount was made from
ENVIRONMENT_ATTR = "lt_environment"  # on the jinja2 environment: its lt_engine Environment

# cid -> component, for finding the object an action is addressed to (weak: a component lives
# as long as the data that holds it)
_live: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()


def cid_of(obj: Any) -> str:
    """The component's id: random (unguessable, unique across processes), made on first use."""
    cid = getattr(obj, CID_ATTR, None)
    if cid is None:
        cid = secrets.token_urlsafe(6)
        object.__setattr__(obj, CID_ATTR, cid)
    return cid


def template_of(obj: Any) -> str:
    name = getattr(type(obj), TEMPLATE_ATTR, None)
    if not isinstance(name, str):
        raise TypeError(f"component({type(obj).__name__}): a component's class names its"
                        f" template in a str attribute 'template', not {type(name).__name__}")
    return name


def component_data(obj: Any) -> dict[str, Any]:
    """What the component's template sees: its public, non-callable attributes, and ``myself``."""
    try:
        attrs = vars(obj)
    except TypeError:
        raise TypeError(f"component({type(obj).__name__}): a component is an object with"
                        " attributes (its state)") from None
    data = {k: v for k, v in attrs.items() if k[:1] != "_" and not callable(v)}
    data[MYSELF] = cid_of(obj)
    return data


@pass_environment
def render_component(environment: jinja2.Environment, obj: Any) -> Markup:
    """The ``component(obj)`` template function, as jinja2 renders it (the oracle, and plain
    renders): the component's template rendered with its data."""
    env = getattr(environment, ENVIRONMENT_ATTR, None)
    get = environment.get_template if env is None else env.component_templates
    return Markup(get(template_of(obj)).render(component_data(obj)))


def mount_of(jenv: jinja2.Environment, obj: Any) -> Mount:
    """The component's own mount, made on first use (then registered for its actions), and
    again when its template was replaced (a template reloaded in dev mode)."""
    env = getattr(jenv, ENVIRONMENT_ATTR, None)
    if env is None:
        raise TypeError("component(…) needs an lt_engine Environment")
    template = env.component_templates(template_of(obj))
    mount = getattr(obj, MOUNT_ATTR, None)
    if mount is None or getattr(obj, TEMPLATE_USED_ATTR, None) is not template:
        mount = template.mount(component_data(obj))
        object.__setattr__(obj, MOUNT_ATTR, mount)
        object.__setattr__(obj, TEMPLATE_USED_ATTR, template)
        _live[cid_of(obj)] = obj
    return mount


def find(cid: str) -> Any | None:
    """The mounted component with this id, if it still lives."""
    return _live.get(cid)


def shown_in(page: Mount, obj: Any) -> bool:
    """Whether the page's tree shows the component ``obj``."""
    mount = getattr(obj, MOUNT_ATTR, None)
    return mount is not None and page.shows(mount)


def update_in(page: Mount, obj: Any) -> dict[str, Any]:
    """The component's own minimal update, as an update of the page's tree (``{}`` when
    nothing changed); LookupError when the page does not show it."""
    mount = getattr(obj, MOUNT_ATTR, None)
    if mount is None:
        raise LookupError(f"the page does not show component {cid_of(obj)!r}")
    return page.component_update(mount, component_data(obj))

