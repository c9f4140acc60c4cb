"""What a job's attempt produces and where it puts it.

Every attempt writes under keys of its own (they carry its lease number), so a worker that
lost its lease but runs on never overwrites what another attempt recorded.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine import report
from sfumato.engine.errors import EngineError

if TYPE_CHECKING:
    from PIL.Image import Image

IMAGE = "image"  # the artifact types a kind may declare; video, weights and mesh come next


@dataclass(frozen=True)
class Attempt:
    """One run of a job, as its runner sees it: ``target`` is the id its outputs are filed
    under (its generation's, else the job's own), ``lease`` the number of the lease it runs
    under, unique per job, so no two attempts ever write the same blob."""

    target: str
    lease: int


@dataclass(frozen=True)
class StoredImage:
    """An image an attempt uploaded: where, what, and its content hash."""

    position: int
    seed: int
    blob_key: str
    content_type: str
    width: int
    height: int
    sha256: str


TaskResult = tuple[list[StoredImage], dict[str, object]]


def image_key(generation_id: str, position: int, lease: int) -> str:
    """Where an attempt (by its lease number) puts a generation's image at ``position``."""
    return f"generations/{generation_id}/lease-{lease}/{position}.png"


def store_png(blobs: BlobStore, key: str, image: Image, *, position: int = 0, seed: int = 0) -> StoredImage:
    """Encode ``image`` as PNG and upload it under ``key``."""
    report.stage(report.UPLOADING)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data = buffer.getvalue()
    blobs.put(key, data, "image/png")
    return StoredImage(
        position=position,
        seed=seed,
        blob_key=key,
        content_type="image/png",
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def store_generation_images(
    blobs: BlobStore, attempt: Attempt, images: list[Any], seeds: list[int]
) -> list[StoredImage]:
    """Upload a generation's images as PNGs, under the attempt's own keys."""
    return [
        store_png(
            blobs, image_key(attempt.target, position, attempt.lease), image, position=position, seed=seed
        )
        for position, (image, seed) in enumerate(zip(images, seeds, strict=True))
    ]


def read_picture(blobs: BlobStore, key: str, what: str, mode: str = "RGB") -> Image:
    """An input picture the service stored for the job, decoded; a clear error when it is gone."""
    from PIL import Image as PILImage

    try:
        data = blobs.get(key)
    except BlobNotFound:
        raise EngineError(f"{what} is gone (deleted before the job ran)") from None
    with PILImage.open(io.BytesIO(data)) as opened:
        return opened.convert(mode)
