"""Actions: the public methods of a page's data model, called with an :class:`ActionContext`.

An action method takes ``(self)`` or ``(self, ctx)``, may be ``async``, may mutate the model,
and may return a mapping of new values for the page's data. It rejects input by raising
:class:`~livetemplate.ValidationError` (or by ``ctx.add_error``); the page then re-renders with
``errors`` set, and the update's ``meta.errors`` carries the same mapping.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from . import flash, protocol
from .errors import ClientError

if TYPE_CHECKING:
    from .page import Page
    from .uploads import UploadEntry

T = TypeVar("T")
_MISSING: Any = object()
# Methods of a data model the framework calls, never clients (not actions):
PARAMS_HOOK = "handle_params"  # handle_params(params, ctx): the page's URL changed (navigation)
HOOKS = frozenset({PARAMS_HOOK})
_TRUE = frozenset({"true", "on", "1", "yes"})
_FALSE = frozenset({"false", "off", "0", "no", ""})


class ActionContext:
    """What an action receives: the action name, its data, typed getters and the page."""

    def __init__(self, page: Page, action: str, data: Mapping[str, Any]) -> None:
        self.page = page
        self.action = action
        self.data = data
        self.errors: dict[str, str] = {}
        self.events: list[list[Any]] = []
        self.flashes: dict[str, str] = {}  # what ctx.flash left: the page's flash after it
        self.url: str | None = None  # in handle_params: the page's new URL (path and query)
        self.goto: tuple[str, str, bool] | None = None  # (patch|navigate|redirect, url, replace)

    def has(self, name: str) -> bool:
        return name in self.data

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def get_str(self, name: str, default: str = _MISSING) -> str:
        value = self._value(name, default)
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise self._wrong(name, "a string", value)

    def get_int(self, name: str, default: int = _MISSING) -> int:
        value = self._value(name, default)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise self._wrong(name, "an integer", value)

    def get_float(self, name: str, default: float = _MISSING) -> float:
        value = self._value(name, default)
        try:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                return float(value.strip())
        except (ValueError, OverflowError):  # not a number, or an int too big for a float
            pass
        raise self._wrong(name, "a number", value)

    def get_bool(self, name: str, default: bool = _MISSING) -> bool:
        value = self._value(name, default)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise self._wrong(name, "a boolean (true/false, on/off, 1/0)", value)

    def add_error(self, field: str, message: str) -> None:
        """Record a validation error; the action still finishes, then the page shows it."""
        self.errors[field] = message

    def push_event(self, name: str, payload: Any = None) -> None:
        """Send the client that sent this action the server event ``name`` with ``payload``
        (JSON data) along with the action's reply; its hooks receive it (``handleEvent``).

        Raises ``ValueError`` for an empty name, ``TypeError`` for a payload JSON cannot carry.
        An action that fails sends no events.
        """
        self.events.append(protocol.event(name, payload))

    def uploaded(self, name: str) -> list[UploadEntry]:
        """The completed files of the page's upload ``name`` (``Upload`` on the model), handed
        to this action: move or read them now, their temporary files are removed when it is
        over. Empty when no upload of that name is complete; ``KeyError`` for an undeclared
        name."""
        return self.page.app.uploads.take(self.page, name)

    def flash(self, kind: str, message: str) -> None:
        """Show ``message`` under ``flash[kind]`` in the render after this action (and, across a
        redirect or navigation, on the page loaded next), once: ``livetemplate.flash``.

        Raises ``TypeError``/``ValueError`` for a kind or message that is not a string, too
        long (``flash.MAX_FLASH_CHARS``), or a fourth kind.
        """
        flash.put(self.flashes, kind, message)

    # Where the browser goes after this action (livetemplate.navigation); the last call wins,
    # and none applies when the action fails or its validation does.

    def patch(self, url: str, *, replace: bool = False) -> None:
        """Change the URL to ``url`` (a path, or ``?query`` on the page's path) and keep the
        page: the client pushes the URL (``replace``: replaces it) and the page's
        ``handle_params`` runs for it, as for a ``lvt-patch`` link."""
        self._go(protocol.PATCH, url, replace)

    def navigate(self, url: str, *, replace: bool = False) -> None:
        """Move the client to the live page at ``url`` (same app, same connection, no reload);
        the client falls back to a full page load where it cannot."""
        self._go(protocol.NAVIGATE, url, replace)

    def redirect(self, url: str) -> None:
        """A full page load of ``url``: a path on this site or an ``http(s)://`` URL."""
        self._go(protocol.REDIRECT, url, False)

    def _go(self, kind: str, url: str, replace: bool) -> None:
        problem = protocol.url_problem(url, absolute=kind == protocol.REDIRECT)
        if problem is not None:
            raise ValueError(f"ctx.{kind}: {problem}")
        self.goto = (kind, url, bool(replace))

    def _value(self, name: str, default: Any) -> Any:
        if name in self.data and self.data[name] is not None:
            return self.data[name]
        if default is _MISSING:
            raise ClientError(
                "bad_data", f"action {self.action!r} needs field {name!r} in its data"
            )
        return default

    def _wrong(self, name: str, expected: str, value: Any) -> ClientError:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return ClientError(
            "bad_data",
            f"field {name!r} of action {self.action!r} must be {expected}, got {shown}",
        )


_ACTIONS_CACHE: dict[type, dict[str, Callable[..., Any]]] = {}


def find_actions(model: Any) -> dict[str, Callable[..., Any]]:
    """The model's actions by name: its public methods (``_``-prefixed names are not actions)."""
    cls = type(model)
    cached = _ACTIONS_CACHE.get(cls)
    if cached is None:
        cached = {}
        for name in dir(cls):
            if name.startswith("_") or name in HOOKS:
                continue
            attr = inspect.getattr_static(cls, name)
            if isinstance(attr, (staticmethod, classmethod)):
                continue
            if inspect.isfunction(attr):
                cached[name] = attr
        _ACTIONS_CACHE[cls] = cached
    return cached


def resolve_action(model: Any, name: str) -> Callable[..., Any] | None:
    if model is None:
        return None
    actions = find_actions(model)
    # Accept kebab-case names from HTML attributes: lvt-click="add-todo" -> add_todo.
    return actions.get(name) or actions.get(name.replace("-", "_"))


def start_action(func: Callable[..., Any], model: Any, ctx: ActionContext) -> Any:
    """Call the action: its result, or the awaitable an ``async`` action returns."""
    return func(model, ctx) if _takes_context(func) else func(model)


def is_pending(result: Any) -> bool:
    """Whether ``start_action`` returned something still to await (an async action)."""
    # None and dicts first: inspect.isawaitable's ABC check costs more than a sync action.
    return result is not None and type(result) is not dict and inspect.isawaitable(result)


async def call_action(func: Callable[..., Any], model: Any, ctx: ActionContext) -> Any:
    result = start_action(func, model, ctx)
    if is_pending(result):
        result = await result
    return result


_ARITY: dict[Callable[..., Any], bool] = {}


def _takes_context(func: Callable[..., Any]) -> bool:
    takes = _ARITY.get(func)
    if takes is None:
        params = list(inspect.signature(func).parameters.values())[1:]
        takes = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
                    for p in params)
        _ARITY[func] = takes
    return takes


_IS_MAPPING: dict[type, bool] = {}


def model_data(model: Any) -> dict[str, Any]:
    """The model's public attributes: what its template sees (besides the page's data)."""
    if model is None:
        return {}
    cls = type(model)
    is_mapping = _IS_MAPPING.get(cls)
    if is_mapping is None:  # once per class: the ABC check costs as much as the rest
        is_mapping = _IS_MAPPING[cls] = isinstance(model, Mapping)
    if is_mapping:
        return {k: v for k, v in model.items() if isinstance(k, str)}
    try:
        attrs = vars(model)
    except TypeError:  # __slots__ without __dict__
        names = [n for c in type(model).__mro__ for n in getattr(c, "__slots__", ())]
        attrs = {n: getattr(model, n) for n in names if hasattr(model, n)}
    return {k: v for k, v in attrs.items() if k[:1] != "_"}
