"""PNG images: a generation's pictures, a variation's, a realtime canvas's, a video's poster."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from sfumato.blobs import BlobStore
from sfumato.jobs.artifacts import IMAGE, Artifact, Attempt, image_key
from sfumato.jobs.writers.upload import upload

if TYPE_CHECKING:
    from PIL.Image import Image

PNG = "image/png"


def store_png(
    blobs: BlobStore, key: str, image: Image, *, position: int = 0, seed: int | None = None
) -> Artifact:
    """Encode ``image`` as PNG and upload it under ``key``."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    uploaded = upload(blobs, key, buffer.getvalue(), PNG)
    return Artifact(
        type=IMAGE,
        blob_key=key,
        content_type=PNG,
        size_bytes=uploaded.size_bytes,
        sha256=uploaded.sha256,
        position=position,
        seed=seed,
        width=image.width,
        height=image.height,
    )


def store_generation_images(
    blobs: BlobStore, attempt: Attempt, images: list[Any], seeds: list[int]
) -> list[Artifact]:
    """Upload a generation's images as PNGs, under the attempt's own keys."""
    return [
        store_png(
            blobs, image_key(attempt.target, position, attempt.lease), image, position=position, seed=seed
        )
        for position, (image, seed) in enumerate(zip(images, seeds, strict=True))
    ]
