"""The BlobStore protocol every backend implements."""

from __future__ import annotations

from typing import Protocol


class BlobNotFound(KeyError):
    pass


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` atomically (readers see all of it or nothing)."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises BlobNotFound."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are not an error."""

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str:
        """An absolute URL a client can GET without credentials, until it expires."""

    def check(self) -> None:
        """Raise if the store is unreachable or unwritable (readiness)."""
