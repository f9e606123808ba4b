"""Without Chromium the browser tests skip with the reason, unless scripts/test requires them."""

from __future__ import annotations

import pytest

from tests.browser.conftest import REQUIRE_BROWSER_ENV, unavailable


def test_missing_browser_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE_BROWSER_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="install-browser"):
        unavailable("/usr/bin/chromium is missing: run `scripts/install-browser`")


def test_missing_browser_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_BROWSER_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=REQUIRE_BROWSER_ENV):
        unavailable("/usr/bin/chromium is missing")
