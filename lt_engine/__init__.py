"""lt_engine: jinja2 templates compiled into live slot trees, updated by minimal diffs.

>>> import lt_engine
>>> env = lt_engine.Environment()
>>> m = env.from_string("<p>{{ n }}</p>").mount({"n": 1})
>>> m.update({"n": 2})
{'0': '2'}
"""

from __future__ import annotations

from ._core import Mount
from .environment import Environment, Template
from .errors import CompileError
from .precompiled import PrecompiledError, StaleTemplateError
from .streams import Stream
from .tracked import TrackedDict, TrackedList, track, untrack
from .wire import ProtocolError, apply_update, to_html

__all__ = [
    "CompileError", "Environment", "Mount", "PrecompiledError", "ProtocolError",
    "StaleTemplateError", "Stream", "Template", "TrackedDict", "TrackedList", "apply_update", "to_html",
    "track", "untrack",
]
