"""Platform elements: LoRA files an operator installs, listed by ``GET /elements`` for every account.

They are read from a TOML file (``SFUMATO_ELEMENTS_FILE``, default ``$SFUMATO_HOME/elements.toml``),
one table per element::

    [elements.watercolour]
    id = "0e6c9ab1-…"              # the akUUID clients send in ``elements``
    name = "Watercolour"
    description = "Soft washes and paper texture."
    base_model = "sd15"            # the catalog key it was trained on
    file = "loras/watercolour.safetensors"   # diffusers' LoRA layout; relative to the file
    weight_default = 1             # what GET /elements advertises (and weight_min, weight_max)

The file is re-read when it changes; each LoRA's content hash is computed once per version
of its file, so a job names the exact weights it applied.
"""

from __future__ import annotations

import hashlib
import threading
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

from sfumato.errors import InvalidRequest
from sfumato.service.context import Context


@dataclass(frozen=True)
class PlatformElement:
    id: str
    name: str
    description: str
    base_model: str
    path: Path
    sd_version: str | None
    weight_default: float = 1.0
    weight_min: float = -1.0
    weight_max: float = 2.0


_lock = threading.Lock()
_cache: dict[Path, tuple[int, list[PlatformElement]]] = {}
_hashes: dict[tuple[Path, int, int], str] = {}


def elements_file(ctx: Context) -> Path:
    return ctx.settings.elements_file or ctx.settings.resolved_home / "elements.toml"


def platform_elements(ctx: Context) -> list[PlatformElement]:
    """The installed elements; none when the file does not exist."""
    path = elements_file(ctx)
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return []
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
    elements = _parse(ctx, path)
    with _lock:
        _cache[path] = (mtime, elements)
    return elements


def find(ctx: Context, element_id: str) -> PlatformElement | None:
    wanted = element_id.strip().lower()
    return next((e for e in platform_elements(ctx) if e.id == wanted), None)


def file_hash(element: PlatformElement) -> str:
    """The LoRA file's sha256 (computed once per size and modification time)."""
    try:
        stat = element.path.stat()
    except FileNotFoundError:
        raise InvalidRequest(
            f"element {element.name!r} is installed but its file {element.path} is missing"
        ) from None
    key = (element.path, stat.st_size, stat.st_mtime_ns)
    with _lock:
        known = _hashes.get(key)
    if known is None:
        digest = hashlib.sha256()
        with element.path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        known = digest.hexdigest()
        with _lock:
            _hashes[key] = known
    return known


def _parse(ctx: Context, path: Path) -> list[PlatformElement]:
    try:
        tables = tomllib.loads(path.read_text("utf-8")).get("elements", {})
        elements = []
        for key, fields in tables.items():
            base = str(fields["base_model"])
            entry = ctx.catalog.resolve(base)
            file = Path(str(fields["file"]))
            elements.append(
                PlatformElement(
                    id=str(uuid.UUID(str(fields["id"]))),
                    name=str(fields.get("name", key)),
                    description=str(fields.get("description", "")),
                    base_model=entry.key if entry is not None else base,
                    path=file if file.is_absolute() else path.parent / file,
                    sd_version=entry.sd_version if entry is not None else None,
                    weight_default=float(fields.get("weight_default", 1.0)),
                    weight_min=float(fields.get("weight_min", -1.0)),
                    weight_max=float(fields.get("weight_max", 2.0)),
                )
            )
        return elements
    except (tomllib.TOMLDecodeError, KeyError, ValueError) as exc:
        raise InvalidRequest(f"the elements file {path} cannot be read: {exc}", code="unexpected") from None
