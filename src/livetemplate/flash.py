"""Flash messages: one-time notices an action leaves for the page's next render.

An action calls ``ctx.flash("info", "Saved.")``; when it ends, the page's flash becomes exactly
what that action flashed (a dict kind -> message, the last message of a kind wins), and the
template reads it under the reserved name ``flash`` (``{{ flash.info }}``). So a flash is shown
once: the next action, URL change (``handle_params``) or HTTP render of the page replaces it
(with nothing, unless it flashes again).

A flash must survive the page load of ``ctx.redirect`` / ``ctx.navigate``: the reply carries it
signed (``meta.flash``), the client keeps it in the short-lived cookie ``livetemplate_flash``,
and the next ``page.serve_http`` of the app reads it (when the signature holds and it has not
expired), shows it and deletes the cookie. Signed, so no other site can put words on the page.

The flash is stored in the page's data under ``flash`` (so a shared store keeps it with the
page); the view gives the template ``{}`` when there is none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import HTTPConnection

from .protocol import unencodable

if TYPE_CHECKING:
    from .page import Page

FLASH = "flash"  # the template name (and the key in the page's data) of the flash messages
COOKIE = "livetemplate_flash"  # carries a flash across a redirect or a live navigation
SALT = "livetemplate.flash"
MAX_FLASH_CHARS = 1000  # per message and kind: a carried flash must fit in one cookie (4 KB)
MAX_KINDS = 3  # kinds at once (info, error, warning …), for the same reason
MAX_AGE = 60.0  # seconds a carried flash waits for the page load that shows it

logger = logging.getLogger("livetemplate")


def put(flashes: dict[str, str], kind: Any, message: Any) -> None:
    """``flashes[kind] = message`` for ``ctx.flash``, checked: ``TypeError``/``ValueError``
    right there for what a flash cannot carry."""
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"a flash kind is a non-empty string (info, error, …), not {kind!r}")
    if not isinstance(message, str):
        raise TypeError(f"a flash message is a string, not {type(message).__name__}")
    if len(kind) > 40 or len(message) > MAX_FLASH_CHARS:
        raise ValueError(f"a flash kind is at most 40 characters and a message at most"
                         f" {MAX_FLASH_CHARS} (it may travel in a cookie); got"
                         f" {len(kind)} and {len(message)}")
    if unencodable(kind) or unencodable(message):
        raise ValueError("a flash holds text that UTF-8 cannot encode (a lone surrogate)")
    if kind not in flashes and len(flashes) >= MAX_KINDS:
        raise ValueError(f"at most {MAX_KINDS} flash kinds at once (already: {', '.join(flashes)})")
    flashes[kind] = message


def settle(data: dict[str, Any], flashes: Mapping[str, str]) -> None:
    """Make the page's flash (in its ``data``) exactly ``flashes``: what shows from now on."""
    if flashes:
        data[FLASH] = dict(flashes)
    elif FLASH in data:
        del data[FLASH]


def view(data: Mapping[str, Any]) -> dict[str, str]:
    """What the template sees as ``flash``: the page's flash, or ``{}``."""
    return data.get(FLASH) or {}


class FlashSigner:
    """Signs a flash to carry it through the browser (``meta.flash``, the cookie), and reads it
    back; a forged, malformed or expired one reads as no flash (and a debug log line)."""

    def __init__(self, secret: str | bytes, clock: Callable[[], float] = time.time) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.clock = clock

    def sign(self, flashes: Mapping[str, str]) -> str:
        return self._serializer.dumps({"f": dict(flashes), "e": round(self.clock() + MAX_AGE, 3)})

    def read(self, value: str | None) -> dict[str, str]:
        if not value:
            return {}
        why = "malformed"
        try:
            # what this signer writes is short ASCII; anything else is not worth decoding
            payload = self._serializer.loads(value) if len(value) < 8192 and value.isascii() \
                else None
        except BadSignature:
            payload, why = None, "its signature does not match"
        if isinstance(payload, dict):
            flashes, expires = payload.get("f"), payload.get("e")
            if not isinstance(expires, (int, float)) or self.clock() >= expires:
                why = "expired"
            elif isinstance(flashes, dict) and all(
                    isinstance(k, str) and isinstance(v, str) for k, v in flashes.items()):
                return flashes
        logger.debug("livetemplate: a carried flash was dropped: %s", why)
        return {}


def from_request(page: Page, request: HTTPConnection) -> bool:
    """Before ``serve_http`` renders (``navigation.enter``, which then updates the page): the
    flash the request carries (the cookie) becomes the page's, replacing the one shown before (a
    reload shows no old flash). Returns whether the request carried the cookie, which the
    response then deletes."""
    value = request.cookies.get(COOKIE)
    settle(page.record.data, page.app.flash_signer.read(value))
    return value is not None
