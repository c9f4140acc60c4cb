"""A job's LoRAs: which trained files it applies (by blob key and content hash) and with what weight.

The payload names each file; the runner reads it from the blob store (kept in memory by
content hash, a few at a time, since the same model serves many jobs) and checks its hash,
so a job applies exactly the weights its lineage names.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine.adapters import Adapter
from sfumato.engine.errors import EngineError

_CACHED_FILES = 16


@dataclass(frozen=True, kw_only=True)
class LoraRef:
    blob_key: str = ""  # a trained LoRA's file in the blob store …
    path: str | None = None  # … or an installed platform element's file on the worker's disk
    sha256: str
    weight: float = 1.0
    name: str = ""  # what the user knows it by (a custom model's or element's id), for the lineage


_files: OrderedDict[str, bytes] = OrderedDict()
_lock = threading.Lock()


def read_adapters(blobs: BlobStore | None, refs: Sequence[LoraRef]) -> tuple[Adapter, ...]:
    if not refs:
        return ()
    if blobs is None:
        raise EngineError("this kind of job cannot apply LoRAs")
    return tuple(Adapter(sha256=ref.sha256, weights=_read(blobs, ref), weight=ref.weight) for ref in refs)


def _read(blobs: BlobStore, ref: LoraRef) -> bytes:
    with _lock:
        data = _files.get(ref.sha256)
        if data is not None:
            _files.move_to_end(ref.sha256)
            return data
    try:
        data = Path(ref.path).read_bytes() if ref.path is not None else blobs.get(ref.blob_key)
    except (BlobNotFound, FileNotFoundError):
        raise EngineError(
            f"the LoRA {ref.name or ref.sha256[:12]} is gone (deleted before the job ran)"
        ) from None
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        raise EngineError(f"the LoRA {ref.name or ref.sha256[:12]} does not match its recorded hash")
    with _lock:
        _files[ref.sha256] = data
        while len(_files) > _CACHED_FILES:
            _files.popitem(last=False)
    return data
