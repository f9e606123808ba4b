from __future__ import annotations

import pytest

from livetemplate import InsecureSecretWarning, TokenExpired, TokenInvalid, TokenOtherPage
from livetemplate.tokens import SECRET_ENV, TokenSigner, resolve_secret


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip_gives_the_page_id() -> None:
    signer = TokenSigner("s")
    assert signer.verify(signer.sign("page-1")) == "page-1"
    assert signer.verify(signer.sign("page-1"), "page-1") == "page-1"


def test_altered_token_is_refused() -> None:
    signer = TokenSigner("s")
    token = signer.sign("page-1")
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(TokenInvalid, match="altered"):
        signer.verify(forged)


def test_token_of_another_secret_is_refused() -> None:
    with pytest.raises(TokenInvalid, match="LIVETEMPLATE_SECRET"):
        TokenSigner("a").verify(TokenSigner("b").sign("page-1"))


@pytest.mark.parametrize("junk", ["", "x" * 600, "not-a-token", 42, "a\ud800.b", "é.x"])
def test_malformed_tokens_are_refused(junk: object) -> None:
    with pytest.raises(TokenInvalid):
        TokenSigner("s").verify(junk)  # type: ignore[arg-type]


def test_token_expires() -> None:
    clock = Clock()
    signer = TokenSigner("s", max_age=60, clock=clock)
    token = signer.sign("p")
    clock.now += 59
    assert signer.verify(token) == "p"
    clock.now += 2
    with pytest.raises(TokenExpired, match="reload the page"):
        signer.verify(token)


def test_token_of_another_page_is_refused() -> None:
    signer = TokenSigner("s")
    with pytest.raises(TokenOtherPage, match="another page"):
        signer.verify(signer.sign("page-1"), "page-2")


def test_secret_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "from-env")
    assert resolve_secret("given") == "given"
    assert resolve_secret(None) == "from-env"


def test_missing_secret_warns_loudly(monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    with pytest.warns(InsecureSecretWarning, match="LIVETEMPLATE_SECRET"):
        secret = resolve_secret(None)
    assert secret and "LIVETEMPLATE_SECRET" in caplog.text
