"""Blobs in a local directory, served by sfumato at ``/blobs/{key}`` with signed URLs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from sfumato.blobs.base import BlobNotFound
from sfumato.blobs.signing import UrlSigner

ROUTE = "/blobs/"


class LocalBlobStore:
    def __init__(self, root: Path, *, public_url: str, signer: UrlSigner) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.public_url = public_url.rstrip("/")
        self.signer = signer

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
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

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def url(self, key: str) -> str:
        path = ROUTE + quote(key)
        expires, signature = self.signer.sign(path)
        return f"{self.public_url}{path}?expires={expires}&signature={signature}"

    def check(self) -> None:
        probe = self.root / ".probe"
        probe.write_bytes(b"ok")
        probe.unlink()
