"""Page tokens: signed (itsdangerous), expiring, each bound to one page id.

A token is what lets a browser find its page again (WebSocket, POST fallback, shared links), so
it must not be guessable or forgeable: it carries the page id and an expiry time, signed with the
application's secret.  Nothing in a token is secret; it is only unforgeable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
import warnings
from collections.abc import Callable

from itsdangerous import BadSignature, URLSafeSerializer

from .errors import TokenExpired, TokenInvalid, TokenOtherPage

SECRET_ENV = "LIVETEMPLATE_SECRET"
SALT = "livetemplate.page-token"
MAX_TOKEN_LENGTH = 512

logger = logging.getLogger("livetemplate")

_COOKIE_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+=:@/%-]*$")  # what a Set-Cookie Path can carry


class InsecureSecretWarning(UserWarning):
    """No secret was configured: tokens are signed with a random per-process key."""


def resolve_secret(secret: str | bytes | None) -> str | bytes:
    """The constructor's secret, else ``$LIVETEMPLATE_SECRET``, else a random one with a warning."""
    if secret:
        return secret
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env
    message = (
        f"livetemplate: no secret given and ${SECRET_ENV} is not set; page tokens are signed with a"
        " random key for this process only, so they stop working after a restart and are not"
        " accepted by other workers. Set LIVETEMPLATE_SECRET (e.g. `python -c 'import secrets;"
        " print(secrets.token_urlsafe(32))'`) or pass Application(secret=...)."
    )
    logger.warning(message)
    warnings.warn(message, InsecureSecretWarning, stacklevel=3)
    return secrets.token_urlsafe(32)


class TokenSigner:
    def __init__(self, secret: str | bytes, max_age: float = 86400.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._serializer = URLSafeSerializer(secret, salt=SALT)
        self.max_age = max_age
        self.clock = clock

    def sign(self, page_id: str) -> str:
        return self._serializer.dumps({"p": page_id, "e": round(self.clock() + self.max_age, 3)})

    def verify(self, token: str, page_id: str | None = None) -> str:
        """The page id the token was signed for; raises if forged, expired, or for another page."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH \
                or not token.isascii():
            raise TokenInvalid("malformed page token; reload the page to get a new one")
        try:
            payload = self._serializer.loads(token)
        except BadSignature:
            raise TokenInvalid(
                "page token signature does not match: it was altered, or signed with another"
                f" secret (every worker must share the same {SECRET_ENV}); reload the page"
            ) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("p"), str):
            raise TokenInvalid("page token has no page id; reload the page to get a new one")
        expires = payload.get("e")
        now = self.clock()
        if not isinstance(expires, (int, float)) or now >= expires:
            ago = f" {now - expires:.0f} s ago" if isinstance(expires, (int, float)) else ""
            raise TokenExpired(f"page token expired{ago}; reload the page to get a new one")
        if page_id is not None and payload["p"] != page_id:
            raise TokenOtherPage(
                "page token belongs to another page; send the token of the page this connection"
                " was opened for"
            )
        return payload["p"]


def cookie_for(cookie_name: str, path: str) -> str:
    """The name of the token cookie of the page served at ``path``.

    One cookie per path: two routes of one app that each serve a shared page (Pattern 2) keep
    their own pages instead of overwriting one cookie. A digest, since a path holds characters a
    cookie name may not.
    """
    digest = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{cookie_name}_{digest}"


def cookie_path(path: str) -> str:
    """The ``Path`` of the token cookie of the page served at ``path``: the path itself, so the
    browser sends the cookie back only there, or ``/`` when the path holds what a Set-Cookie
    header cannot carry."""
    return path if _COOKIE_PATH.match(path) else "/"
