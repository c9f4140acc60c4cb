"""HMAC-signed, expiring URLs for blobs that sfumato serves itself."""

from __future__ import annotations

import hashlib
import hmac
import time


class UrlSigner:
    def __init__(self, secret: bytes, ttl_seconds: int) -> None:
        self._secret = secret
        self.ttl_seconds = ttl_seconds

    def sign(self, path: str, *, expires: int | None = None) -> tuple[int, str]:
        expires = expires if expires is not None else int(time.time()) + self.ttl_seconds
        return expires, self._signature(path, expires)

    def verify(self, path: str, expires: int, signature: str) -> bool:
        if expires < time.time():
            return False
        return hmac.compare_digest(self._signature(path, expires), signature)

    def mac(self, message: bytes) -> str:
        """HMAC-SHA256 of ``message`` under this signer's key, for other signed documents
        (upload policies). URL messages start with ``/``, so the two never collide."""
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _signature(self, path: str, expires: int) -> str:
        return self.mac(f"{path}\n{expires}".encode())
