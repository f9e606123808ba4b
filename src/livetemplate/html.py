"""Adds the token ``<meta>`` and the client ``<script>`` to a page's served HTML.

Only the HTTP response gets them: they sit in ``<head>``, outside the live tree the client
patches.
"""

from __future__ import annotations

import re

from markupsafe import escape

CLIENT_PATH = "/livetemplate-client.js"
CLIENT_NAME = "livetemplate-client.js"
TOKEN_META = "livetemplate-token"

_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_HEAD_START = re.compile(r"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML_START = re.compile(r"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(r"^\s*<!doctype[^>]*>", re.IGNORECASE)


def inject(html: str, token: str | None, client_path: str = CLIENT_PATH) -> str:
    tags = ""
    if token is not None:
        tags += f'<meta name="{TOKEN_META}" content="{escape(token)}">'
    if CLIENT_NAME not in html:
        tags += f'<script src="{escape(client_path)}" defer></script>'
    if not tags:
        return html
    match = _HEAD_END.search(html)
    if match:
        return html[: match.start()] + tags + html[match.start():]
    for pattern in (_HEAD_START, _HTML_START, _DOCTYPE):
        match = pattern.search(html)
        if match:
            return html[: match.end()] + tags + html[match.end():]
    return tags + html
