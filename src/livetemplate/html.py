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


DEFAULT_LIVE_URL = "/ws"  # where the client connects when its script tag names no URL


def inject(html: str, token: str | None, client_path: str = CLIENT_PATH,
           live_url: str | None = None) -> str:
    """``html`` with the token ``<meta>`` and, unless it has one, the client ``<script>``.

    ``live_url`` (the path of ``app.routes()``) goes on the script tag as ``data-lvt-url`` when
    it is not the client's default, so the page connects where the endpoint really is.
    """
    tags = ""
    if token is not None:
        tags += f'<meta name="{TOKEN_META}" content="{escape(token)}">'
    if CLIENT_NAME not in html:
        url = ""
        if live_url is not None and live_url != DEFAULT_LIVE_URL:
            url = f' data-lvt-url="{escape(live_url)}"'
        tags += f'<script src="{escape(client_path)}"{url} defer></script>'
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
