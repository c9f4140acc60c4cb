"""Under CI a missing browser fails the studio's tests instead of skipping them quietly."""

from __future__ import annotations

import pytest

from tests.browser.conftest import require_chromium

MISSING = "/nonexistent/chromium"


def test_under_ci_a_missing_chromium_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, so the studio's browser tests may not be"):
        require_chromium(MISSING)


def test_elsewhere_a_missing_chromium_skips_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{MISSING} is missing"):
        require_chromium(MISSING)
