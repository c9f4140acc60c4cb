"""Task runners: each turns a claimed job's payload into an engine call and its output into blobs.

``RUNNERS`` maps a job ``kind`` (as the service enqueues it) to its runner; a new kind of
job adds one function here and one entry in ``RUNNERS``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.engine.specs import TextToImageSpec
from sfumato.worker.outcomes import StoredImage, image_key


def text_to_image_spec(payload: dict[str, Any]) -> TextToImageSpec:
    return TextToImageSpec(
        model_key=payload["model_key"],
        prompt=payload["prompt"],
        negative_prompt=payload.get("negative_prompt"),
        width=int(payload["width"]),
        height=int(payload["height"]),
        steps=int(payload["steps"]),
        guidance_scale=float(payload["guidance_scale"]),
        seeds=tuple(int(s) for s in payload["seeds"]),
        scheduler=payload.get("scheduler"),
        tiling=bool(payload.get("tiling", False)),
    )


TaskResult = tuple[list[StoredImage], dict[str, object]]
Runner = Callable[[Engine, BlobStore, str, dict[str, Any]], TaskResult]


def run_text_to_image(
    engine: Engine, blobs: BlobStore, generation_id: str, payload: dict[str, Any]
) -> TaskResult:
    output = engine.text_to_image(text_to_image_spec(payload))
    return store_images(blobs, generation_id, output.images, output.seeds), dict(output.lineage)


def store_images(
    blobs: BlobStore, generation_id: str, images: list[Any], seeds: list[int]
) -> list[StoredImage]:
    """Encode and upload a generation's images as PNGs."""
    stored = []
    for position, (image, seed) in enumerate(zip(images, seeds, strict=True)):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
        key = image_key(generation_id, position)
        blobs.put(key, data, "image/png")
        stored.append(
            StoredImage(
                position=position,
                seed=seed,
                blob_key=key,
                content_type="image/png",
                width=image.width,
                height=image.height,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return stored


RUNNERS: dict[str, Runner] = {
    "text_to_image": run_text_to_image,
}
