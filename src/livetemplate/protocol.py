"""The messages between browser and server: key names, parsing of client messages, encoding.

Server -> client: ``{"tree": …, "meta": {…}}`` (the full tree on connect, then updates; server
events for the client's hooks ride in ``meta["events"]``),
``{"type": "page_token", "token": …}`` and ``{"type": "error", "code": …, "message": …}``.
Client -> server: ``{"type": "action", "action": "increment", "data": {…}}`` with an optional
``"token"``.  ``docs/protocol.md`` describes the tree format inside ``"tree"``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ClientError

TYPE = "type"
ACTION = "action"
DATA = "data"
TOKEN = "token"
TARGET = "target"  # in an action: the component it is addressed to (livetemplate.components)
TREE = "tree"
META = "meta"
CODE = "code"
MESSAGE = "message"
EVENTS = "events"  # in "meta": [[name, payload], …], server events for the client (hooks)

# The shipped client offers its page token as a WebSocket subprotocol (the one header a browser
# lets a script set on an upgrade), so the token stays out of URLs and access logs: it offers
# "livetemplate" and "livetemplate.token.<token>", and the server picks "livetemplate".
SUBPROTOCOL = "livetemplate"
TOKEN_SUBPROTOCOL = SUBPROTOCOL + ".token."

TYPE_ACTION = "action"
TYPE_PAGE_TOKEN = "page_token"
TYPE_ERROR = "error"
TYPE_UPLOAD = "upload"  # announces files to upload (livetemplate.uploads)
# parse_action's action name for an upload message: no method can be named so
UPLOAD_ACTION = "lvt:upload"
# Live navigation (livetemplate.navigation), client -> server over the WebSocket:
TYPE_PARAMS = "params"  # {"type": "params", "url": "/?filter=done"}: the page's URL changed
TYPE_JOIN = "join"  # {"type": "join", "token": …}: move this connection to another page
URL = "url"
# in the reply's "meta", server -> client: where to go after an action, and a carried flash
PATCH, NAVIGATE, REDIRECT, REPLACE, FLASH = "patch", "navigate", "redirect", "replace", "flash"
MAX_URL_CHARS = 2048

# Error codes on the wire, with the HTTP status of the POST fallback and the WebSocket close code
# (None: the connection stays open after the error message).
ERRORS: dict[str, tuple[int, int | None]] = {
    "bad_json": (400, None),
    "bad_message": (400, None),
    "bad_data": (400, None),
    "unknown_action": (400, None),
    "unknown_component": (400, None),  # an action's "target" names no component of the page
    "rate_limited": (429, None),
    "action_failed": (500, None),
    "action_timeout": (504, None),
    "render_failed": (500, None),
    "too_large": (413, 1009),
    "origin": (403, 1008),
    "token_missing": (403, 1008),
    "token_invalid": (403, 1008),
    "token_expired": (403, 1008),
    "token_other_page": (403, 1008),
    "page_not_found": (410, 1008),
    "page_limit": (503, 1013),
    "slow_consumer": (503, 1013),
    "store_unavailable": (503, 1013),  # the shared page store (Redis) is unreachable
    "page_busy": (503, 1013),
    "page_conflict": (409, None),
    "unstorable": (500, None),
    # uploads (docs/protocol.md, "Uploads"): the connection stays open, the upload may be abandoned
    "unknown_upload": (400, None),
    "bad_upload": (400, None),
    "upload_busy": (409, None),
    "bad_chunk": (400, None),
    "chunk_too_large": (413, None),
    "unknown_entry": (400, None),
    "chunk_order": (400, None),
    "upload_size": (413, None),
}

MAX_ACTION_NAME = 100
MAX_TARGET = 64  # characters of an action's "target" (a component id is 8)

logger = logging.getLogger("livetemplate")


@dataclass(frozen=True)
class ActionMessage:
    """One client action: ``{"type": "action", "action": name, "data": {…}, "token": …}``."""

    action: str
    data: dict[str, Any] = field(default_factory=dict)
    type: str = TYPE_ACTION
    token: str | None = None
    target: str | None = None


def parse_message(raw: str | bytes | Mapping[str, Any] | ActionMessage) -> ActionMessage:
    """Validate an untrusted client message; raise :class:`ClientError` saying what is wrong."""
    if isinstance(raw, ActionMessage):
        return raw
    action, data, token, target = parse_action(raw)
    if action == UPLOAD_ACTION:
        return ActionMessage(action=action, data=data, type=TYPE_UPLOAD, token=token)
    return ActionMessage(action=action, data=data, token=token, target=target)


def parse_action(
    raw: str | bytes | Mapping[str, Any],
) -> tuple[str, dict[str, Any], str | None, str | None]:
    """``parse_message`` without building an :class:`ActionMessage`: ``(action, data, token,
    target)``.

    The per-action path uses this one (a frozen dataclass costs more than the JSON decode).
    """
    raw_text = raw
    if isinstance(raw, (str, bytes)):
        try:
            raw = _decode(raw) if type(raw) is str else json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ClientError("bad_json", f"message is not valid JSON ({exc}); send a JSON object") from None
        except RecursionError:  # "[[[[…" deeper than the decoder's recursion limit
            raise ClientError("bad_json", "message is nested too deeply; send a flat JSON"
                                          " object") from None
        fresh = True  # decoded here: nobody else holds its "data"
    else:
        fresh = False
    if type(raw) is not dict and not isinstance(raw, Mapping):  # (the ABC check is slow)
        raise ClientError("bad_message", 'message must be a JSON object like {"type": "action", ...}')
    kind = raw.get(TYPE, TYPE_ACTION)
    if kind != TYPE_ACTION:
        if kind == TYPE_UPLOAD:  # checked by livetemplate.uploads
            return UPLOAD_ACTION, dict(raw), _token(raw), None
        raise ClientError("bad_message", f'unknown message type {kind!r}; clients send "action"'
                                         ' or "upload" (and, over a WebSocket, "params" and'
                                         ' "join")')
    action = raw.get(ACTION)
    if not isinstance(action, str) or not action or len(action) > MAX_ACTION_NAME:
        raise ClientError("bad_message", '"action" must be a non-empty string naming an action')
    if not action.isascii() and unencodable(action):
        raise ClientError("bad_message", '"action" holds text that UTF-8 cannot encode (a lone'
                                         " surrogate); send valid Unicode")
    data = raw.get(DATA)
    if data is None:
        data = {}
    else:
        if type(data) is not dict or not fresh:
            if not isinstance(data, Mapping):
                raise ClientError("bad_message",
                                  f'"data" must be a JSON object, not {type(data).__name__}')
            data = dict(data)  # the caller's mapping stays the caller's
        # JSON carries lone surrogates ("\ud800", what JSON.stringify makes of half an emoji),
        # UTF-8 cannot: refused here, before an action stores one where every later render of
        # the page would fail to encode. A decoded str holds one only if its text had a "\u"
        # escape or was not ASCII (isascii is a flag lookup for str).
        if not fresh or type(raw_text) is not str or not raw_text.isascii() \
                or "\\u" in raw_text:
            bad = _surrogate_field(data, "")
            if bad is not None:
                raise ClientError(
                    "bad_data", f"field '{bad}' of action {action!r} holds text that UTF-8 cannot"
                    " encode (a lone surrogate, e.g. half of an emoji); send valid Unicode")
    return action, data, _token(raw), _target(raw)


def _token(raw: Mapping[str, Any]) -> str | None:
    token = raw.get(TOKEN)
    if token is not None and not isinstance(token, str):
        raise ClientError("bad_message", '"token" must be a string')
    return token


def _target(raw: Mapping[str, Any]) -> str | None:
    target = raw.get(TARGET)
    if target is not None and (type(target) is not str or not 0 < len(target) <= MAX_TARGET):
        raise ClientError("bad_message", f'"target" must be a component id (a string of 1 to'
                                         f" {MAX_TARGET} characters), as lvt-target holds")
    return target


def url_problem(url: object, absolute: bool = False) -> str | None:
    """Why ``url`` cannot be a URL on the wire (``None`` when it can).

    A URL on the wire is a path on this site (``/items?page=2``) or a query on the page's own
    path (``?page=2``) — with ``absolute``, also an ``http(s)://`` URL — of at most
    ``MAX_URL_CHARS``, with no control characters, backslashes or lone surrogates: nothing a
    browser could read as another site (``//evil``, ``/\\evil``) or a script (``javascript:``).
    """
    if not isinstance(url, str):
        return f"a URL is a string, not {type(url).__name__}"
    if not url:
        return "a URL is a non-empty string"
    if len(url) > MAX_URL_CHARS:
        return f"a URL of {len(url)} characters is longer than {MAX_URL_CHARS}"
    if _UNSAFE_URL.search(url) or unencodable(url):
        return "a URL holds a control character, a backslash or a lone surrogate"
    if (url[0] == "/" and url[1:2] != "/") or url[0] == "?":
        return None
    if absolute and _ABSOLUTE_URL.match(url):
        return None
    return (f"{url[:60]!r} is not a path on this site (it starts with a single '/', or '?')"
            + (" nor an http(s):// URL" if absolute else ""))


_UNSAFE_URL = re.compile(r"[\x00-\x1f\x7f\\]")
_ABSOLUTE_URL = re.compile(r"^https?://[^/?#\s]+", re.IGNORECASE)


def unencodable(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: JSON can carry it, UTF-8 cannot."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False


def _surrogate_field(value: Any, path: str) -> str | None:
    """The path (``text``, ``rows[2].name``) of the first string in ``value`` that UTF-8
    cannot encode, key or value; ``None`` when there is none."""
    if type(value) is str:
        return (path or "data") if not value.isascii() and unencodable(value) else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = key if isinstance(key, str) else str(key)
            if not name.isascii() and unencodable(name):
                shown = name.encode("utf-8", "backslashreplace").decode()
                return f"{path}.{shown}" if path else shown
            found = _surrogate_field(item, f"{path}.{name}" if path else name)
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _surrogate_field(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


_decode = json.JSONDecoder().decode  # json.loads minus its argument checks


def _compact_encoder() -> Callable[[Any], str]:
    """Compact JSON, the C encoder built once: json.dumps builds one per call (~2 µs of ~5)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

    def default(value: Any) -> Any:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    # no circular-reference markers: messages are trees built by this package
    chunks = make(None, default, json.encoder.encode_basestring, None, ":", ",",
                  False, False, True)
    return lambda value: "".join(chunks(value, 0))


_encode = _compact_encoder()


def dumps(message: Mapping[str, Any]) -> str:
    """The wire encoding: compact JSON that UTF-8 can always encode (see ``utf8_safe``)."""
    text = _encode(message)
    return text if text.isascii() else utf8_safe(text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_safe(text: str) -> str:
    """``text``, with any lone surrogate replaced by U+FFFD (and an error logged).

    Client input is refused before it can hold one (``parse_action``), but server code can still
    put one in a page's data; sending it raw would fail in the socket's UTF-8 encoder, the same
    way at every later send and every GET, and leave the page unservable for good.
    """
    if not unencodable(text):
        return text
    logger.error("livetemplate: a rendered page held text that UTF-8 cannot encode (a lone"
                 " surrogate, put in the page's data by server code); sent as U+FFFD")
    return _SURROGATE.sub("\ufffd", text)


def tree_message(tree: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {TREE: tree, META: dict(meta or {})}


def event(name: str, payload: Any = None) -> list[Any]:
    """One server event, ``[name, payload]``, checked now: a bad one fails where it is pushed."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"an event name is a non-empty string, not {name!r}")
    try:  # what browsers read: no NaN or Infinity, no lone surrogates (not UTF-8)
        json.dumps(payload, allow_nan=False, ensure_ascii=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"the payload of event {name!r} must be JSON data (dicts, lists, strings,"
                        f" finite numbers, booleans, None): {exc}") from None
    return [name, payload]


def events_message(events: list[list[Any]]) -> dict[str, Any]:
    """Server events alone: an unchanged tree carrying them in its ``meta``."""
    return tree_message({}, {EVENTS: events})


def page_token_message(token: str) -> dict[str, Any]:
    return {TYPE: TYPE_PAGE_TOKEN, TOKEN: token}


def error_message(code: str, message: str) -> dict[str, Any]:
    return {TYPE: TYPE_ERROR, CODE: code, MESSAGE: message}


def http_status(code: str) -> int:
    return ERRORS.get(code, (400, None))[0]


def close_code(code: str) -> int | None:
    return ERRORS.get(code, (400, None))[1]
