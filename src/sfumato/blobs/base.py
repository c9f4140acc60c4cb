"""The BlobStore protocol every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class BlobNotFound(KeyError):
    pass


@dataclass(frozen=True)
class PresignedPost:
    """Where and how a client uploads one object without credentials: an S3-style form POST.

    The client sends ``multipart/form-data`` to ``url`` with every item of ``fields`` and
    then the file (form field ``file``), exactly as it would to an S3 bucket.
    """

    url: str
    fields: dict[str, str]


class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key`` atomically (readers see all of it or nothing)."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; raises BlobNotFound."""

    def size(self, key: str) -> int:
        """The byte size of ``key`` without reading it; raises BlobNotFound."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are not an error."""

    def exists(self, key: str) -> bool: ...

    def url(self, key: str) -> str:
        """An absolute URL a client can GET without credentials, until it expires."""

    def presign_post(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        """A form upload of one object to ``key``: this content type, 1..``max_bytes`` bytes,
        accepted for ``expires_in`` seconds."""

    def check(self) -> None:
        """Raise if the store is unreachable or unwritable (readiness)."""
