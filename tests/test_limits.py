from __future__ import annotations

from livetemplate import Limits
from livetemplate.limits import RateLimiter, origin_refusal


def test_rate_limiter_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one message's worth of refill
    assert [limiter.allow(), limiter.allow()] == [True, False]


def test_no_rate_means_no_limit() -> None:
    limiter = RateLimiter(rate=None, burst=1)
    assert all(limiter.allow() for _ in range(1000))


def test_same_origin_and_no_origin_are_allowed() -> None:
    limits = Limits()
    assert origin_refusal({"host": "example.com"}, limits) is None
    assert origin_refusal({"host": "example.com", "origin": "https://example.com"}, limits) is None
    assert origin_refusal({"host": "a:8000", "origin": "http://A:8000"}, limits) is None


def test_other_origins_are_refused_unless_allowed() -> None:
    headers = {"host": "example.com", "origin": "https://evil.example"}
    reason = origin_refusal(headers, Limits())
    assert reason is not None and "allowed_origins" in reason and "evil.example" in reason
    assert origin_refusal(headers, Limits(allowed_origins=("https://evil.example/",))) is None
    assert origin_refusal(headers, Limits(allowed_origins=("*",))) is None
    assert origin_refusal(headers, Limits(check_origin=False)) is None
    assert origin_refusal({"host": "example.com", "origin": "null"}, Limits()) is not None


def test_every_limit_is_documented_with_its_default() -> None:
    import dataclasses
    import re
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs"
    api = " ".join((docs / "api.md").read_text().split())
    signature = "Limits(" + ", ".join(f"{f.name}={f.default!r}"
                                      for f in dataclasses.fields(Limits)) + ")"
    assert f"`{signature}`" in api  # the signature in docs/api.md, defaults included
    security = (docs / "security.md").read_text()
    rows = [line for line in security.splitlines() if re.match(r"\| `\w+`", line)]
    for field in dataclasses.fields(Limits):
        assert any(f"`{field.name}`" in row for row in rows), field.name
