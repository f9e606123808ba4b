"""The messages between browser and server: key names, parsing of client messages, encoding.

Server -> client: ``{"tree": …, "meta": {…}}`` (the full tree on connect, then updates),
``{"type": "page_token", "token": …}`` and ``{"type": "error", "code": …, "message": …}``.
Client -> server: ``{"type": "action", "action": "increment", "data": {…}}`` with an optional
``"token"``.  ``docs/protocol.md`` describes the tree format inside ``"tree"``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ClientError

TYPE = "type"
ACTION = "action"
DATA = "data"
TOKEN = "token"
TREE = "tree"
META = "meta"
CODE = "code"
MESSAGE = "message"

TYPE_ACTION = "action"
TYPE_PAGE_TOKEN = "page_token"
TYPE_ERROR = "error"

# Error codes on the wire, with the HTTP status of the POST fallback and the WebSocket close code
# (None: the connection stays open after the error message).
ERRORS: dict[str, tuple[int, int | None]] = {
    "bad_json": (400, None),
    "bad_message": (400, None),
    "bad_data": (400, None),
    "unknown_action": (400, None),
    "rate_limited": (429, None),
    "action_failed": (500, None),
    "too_large": (413, 1009),
    "origin": (403, 1008),
    "token_missing": (403, 1008),
    "token_invalid": (403, 1008),
    "token_expired": (403, 1008),
    "token_other_page": (403, 1008),
    "page_not_found": (410, 1008),
    "page_limit": (503, 1013),
    "slow_consumer": (503, 1013),
}

MAX_ACTION_NAME = 100


@dataclass(frozen=True)
class ActionMessage:
    """One client action: ``{"type": "action", "action": name, "data": {…}, "token": …}``."""

    action: str
    data: dict[str, Any] = field(default_factory=dict)
    type: str = TYPE_ACTION
    token: str | None = None


def parse_message(raw: str | bytes | Mapping[str, Any] | ActionMessage) -> ActionMessage:
    """Validate an untrusted client message; raise :class:`ClientError` saying what is wrong."""
    if isinstance(raw, ActionMessage):
        return raw
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ClientError("bad_json", f"message is not valid JSON ({exc}); send a JSON object") from None
    if type(raw) is not dict and not isinstance(raw, Mapping):  # (the ABC check is slow)
        raise ClientError("bad_message", 'message must be a JSON object like {"type": "action", ...}')
    kind = raw.get(TYPE, TYPE_ACTION)
    if kind != TYPE_ACTION:
        raise ClientError("bad_message", f'unknown message type {kind!r}; clients send "action"')
    action = raw.get(ACTION)
    if not isinstance(action, str) or not action or len(action) > MAX_ACTION_NAME:
        raise ClientError("bad_message", '"action" must be a non-empty string naming an action')
    data = raw.get(DATA)
    if data is None:
        data = {}
    if type(data) is not dict and not isinstance(data, Mapping):
        raise ClientError("bad_message", f'"data" must be a JSON object, not {type(data).__name__}')
    token = raw.get(TOKEN)
    if token is not None and not isinstance(token, str):
        raise ClientError("bad_message", '"token" must be a string')
    return ActionMessage(action=action, data=dict(data), token=token)


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
    """The wire encoding: compact JSON."""
    return _encode(message)


def tree_message(tree: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {TREE: tree, META: dict(meta or {})}


def page_token_message(token: str) -> dict[str, Any]:
    return {TYPE: TYPE_PAGE_TOKEN, TOKEN: token}


def error_message(code: str, message: str) -> dict[str, Any]:
    return {TYPE: TYPE_ERROR, CODE: code, MESSAGE: message}


def http_status(code: str) -> int:
    return ERRORS.get(code, (400, None))[0]


def close_code(code: str) -> int | None:
    return ERRORS.get(code, (400, None))[1]
