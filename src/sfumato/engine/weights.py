"""Facts about weights on disk: a short fingerprint for lineage, and which variant to load.

Both only list and stat files (plus reading the small ``model_index.json``), so they are
cheap enough to run at every load; hashing gigabytes of weights per load would not be.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth")
_SHARD = re.compile(r"-\d+-of-\d+$")


def weights_fingerprint(path: Path) -> str:
    """A 16-hex-digit digest naming these weights: same files, same digest.

    Over ``model_index.json``'s bytes and each weight file's relative name and size, or a
    single checkpoint's name and size. It cannot tell two same-sized files apart; it is
    an identity for lineage, not an integrity check.
    """
    stat = path.stat()
    return _fingerprint(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _fingerprint(path_text: str, _mtime_ns: int, _size: int) -> str:
    # The stat values are part of the cache key only, so re-fetched weights re-hash.
    path = Path(path_text)
    digest = hashlib.sha256()
    if path.is_file():
        digest.update(f"{path.name}\0{path.stat().st_size}\n".encode())
        return digest.hexdigest()[:16]
    index = path / "model_index.json"
    if index.is_file():
        digest.update(index.read_bytes())
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        relative = file.relative_to(path).as_posix()
        digest.update(f"{relative}\0{file.stat().st_size}\n".encode())
    return digest.hexdigest()[:16]


def weight_variant(filename: str) -> str | None:
    """The variant a weight file name carries: ``unet.fp16.safetensors`` → ``"fp16"``.

    Sharded names (``model.fp16-00001-of-00002.safetensors``) count the same way; a plain
    name has no variant (None).
    """
    name = filename.rsplit("/", 1)[-1]
    for suffix in WEIGHT_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    name = _SHARD.sub("", name)
    parts = name.split(".")
    return parts[-1] if len(parts) > 1 else None


def detect_variant(path: Path) -> str | None:
    """``"fp16"`` when a fetched directory holds fp16 weight files, which must then be
    asked for by name when loading; None for plain weights and single files."""
    if not path.is_dir():
        return None
    for file in path.rglob("*"):
        if file.suffix in WEIGHT_SUFFIXES and weight_variant(file.name) == "fp16":
            return "fp16"
    return None
