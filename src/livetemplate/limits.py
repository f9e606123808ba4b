"""Limits on untrusted clients and on server memory, and the checks that enforce them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Limits:
    """Defaults suit a public site; set ``rate=None`` to switch the rate limit off (benchmarks).

    ``docs/security.md`` says what each limit protects against and what happens past it.
    """

    max_message_bytes: int = 64 * 1024  # one client message (WebSocket frame or POST body)
    rate: float | None = 50.0  # sustained messages per second per connection
    burst: int = 100  # messages a connection may send at once before ``rate`` applies
    check_origin: bool = True  # WebSocket upgrades and POSTs must come from the page's origin
    allowed_origins: tuple[str, ...] = ()  # extra origins, e.g. "https://app.example.com"; "*" = any
    page_ttl: float = 30 * 60.0  # seconds a page without connections lives after its last use
    max_pages: int = 10_000  # live pages per application; new_page beyond it is refused
    token_max_age: float = 24 * 3600.0  # seconds a page token stays valid after it is issued
    send_queue: int = 1024  # messages waiting for one slow connection before it is closed
    send_queue_bytes: int | None = 8 * 1024 * 1024  # their total size (characters of JSON)
    send_timeout: float | None = 30.0  # seconds one send may stall before the client is dropped
    action_timeout: float | None = 30.0  # seconds an async action may run; None = no limit
    # bytes of file data in one upload chunk frame: with its header it fits max_message_bytes
    upload_chunk: int = 60 * 1024
    upload_timeout: float | None = 60.0  # seconds an upload may wait for its next chunk or action


class RateLimiter:
    """A token bucket: ``burst`` messages at once, refilled at ``rate`` per second."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "clock")

    def __init__(self, rate: float | None, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()

    def allow(self) -> bool:
        if self.rate is None:
            return True
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def origin_refusal(headers: Mapping[str, str], limits: Limits) -> str | None:
    """Why this request's ``Origin`` is refused, or ``None`` when it is allowed.

    Browsers always send ``Origin`` on WebSocket upgrades and cross-site POSTs; without the check
    any site could open a socket to this one with the visitor's cookies. A request without
    ``Origin`` is not from a browser page and is allowed (such a client can send any header).
    """
    if not limits.check_origin:
        return None
    origin = headers.get("origin")
    if origin is None or "*" in limits.allowed_origins:
        return None
    if origin.rstrip("/") in (o.rstrip("/") for o in limits.allowed_origins):
        return None
    host = headers.get("host", "")
    if origin != "null" and urlsplit(origin).netloc.lower() == host.lower():
        return None
    return (
        f"origin {origin} is not allowed for host {host or '?'}; serve the page from the same"
        " origin or add it to Limits(allowed_origins=...)"
    )
