"""The step every writer ends with: put the bytes, and say how many and their hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sfumato.blobs import BlobStore
from sfumato.engine import report


@dataclass(frozen=True)
class Uploaded:
    size_bytes: int
    sha256: str


def upload(blobs: BlobStore, key: str, data: bytes, content_type: str) -> Uploaded:
    report.stage(report.UPLOADING)
    blobs.put(key, data, content_type)
    return Uploaded(size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
