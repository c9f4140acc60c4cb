"""Recently authenticated API keys, kept for a few seconds so most requests skip the lookup.

Keys are cached by their SHA-256 digest, only after the database confirmed them, and
only for ``ttl`` seconds: a key revoked on another node (or with the CLI) stops working
here within that time; one revoked through this process stops at once (:meth:`clear`).
"""

from __future__ import annotations

import time
from typing import Generic, TypeVar

T = TypeVar("T")


class KeyCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[T, float]] = {}

    def get(self, digest: str) -> T | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        value, expires = entry
        if time.monotonic() >= expires:
            self._entries.pop(digest, None)
            return None
        return value

    def put(self, digest: str, value: T) -> None:
        if self.ttl > 0:
            self._entries[digest] = (value, time.monotonic() + self.ttl)

    def discard(self, digest: str) -> None:
        self._entries.pop(digest, None)

    def clear(self) -> None:
        self._entries.clear()
