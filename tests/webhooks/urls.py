"""Signed URLs name the same blob whenever they are rendered; only their expiry and signature move."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def unsigned(value: Any) -> Any:
    """``value`` with every ``url`` field cut to its path, so two renderings a second apart compare equal."""
    if isinstance(value, dict):
        return {key: _path(item) if key == "url" else unsigned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unsigned(item) for item in value]
    return value


def _path(url: Any) -> Any:
    return urlsplit(url)._replace(query="").geturl() if isinstance(url, str) else url
