"""Blobs in a local directory, served by sfumato at ``/blobs/{key}`` with signed URLs.

Uploads arrive at ``/uploads`` as S3-style form POSTs whose policy sfumato signed itself
(see :mod:`sfumato.blobs.presign`).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from sfumato.blobs.base import BlobNotFound, PresignedPost
from sfumato.blobs.presign import PostPolicy, sign_policy, verify_post
from sfumato.blobs.signing import UrlSigner

ROUTE = "/blobs/"
UPLOAD_ROUTE = "/uploads"


class LocalBlobStore:
    def __init__(self, root: Path, *, public_url: str, signer: UrlSigner) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._resolved_root = root.resolve()
        self.public_url = public_url.rstrip("/")
        self.signer = signer

    def _path(self, key: str) -> Path:
        path = (self._resolved_root / key).resolve()
        if self._resolved_root not in path.parents:
            raise BlobNotFound(key)
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError) as exc:
            raise BlobNotFound(key) from exc

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobNotFound(key) from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str) -> str:
        path = ROUTE + quote(key)
        expires, signature = self.signer.sign(path)
        return f"{self.public_url}{path}?expires={expires}&signature={signature}"

    def presign_post(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        self._path(key)  # refuse a key outside the root now rather than at upload
        policy = PostPolicy(
            key=key, content_type=content_type, max_bytes=max_bytes, expires=int(time.time()) + expires_in
        )
        return PresignedPost(url=self.public_url + UPLOAD_ROUTE, fields=sign_policy(self.signer.mac, policy))

    def verify_post(self, fields: Mapping[str, str], size: int) -> PostPolicy:
        """The policy of a form received at the upload route, if it holds (see ``verify_post``)."""
        return verify_post(self.signer.mac, fields, size, now=time.time())

    def check(self) -> None:
        probe = self.root / ".probe"
        probe.write_bytes(b"ok")
        probe.unlink()
