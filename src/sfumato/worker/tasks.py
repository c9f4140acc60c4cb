"""Task runners: each turns a claimed job's payload into an engine call and its output into blobs.

``RUNNERS`` maps a job ``kind`` (as the service enqueues it) to its runner; a new kind of
job adds one function here and one entry in ``RUNNERS``.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine import Engine
from sfumato.engine.errors import EngineError
from sfumato.engine.img2img import ImageToImageSpec, image_to_image
from sfumato.engine.inpaint import InpaintSpec, inpaint
from sfumato.engine.specs import TextToImageSpec
from sfumato.worker import picture_tasks
from sfumato.worker.outcomes import Attempt, StoredImage, image_key


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
Runner = Callable[[Engine, BlobStore, Attempt, dict[str, Any]], TaskResult]


def run_text_to_image(
    engine: Engine, blobs: BlobStore, attempt: Attempt, payload: dict[str, Any]
) -> TaskResult:
    output = engine.text_to_image(text_to_image_spec(payload))
    return store_images(blobs, attempt, output.images, output.seeds), dict(output.lineage)


def run_image_to_image(
    engine: Engine, blobs: BlobStore, attempt: Attempt, payload: dict[str, Any]
) -> TaskResult:
    spec = ImageToImageSpec(
        **_edit_fields(blobs, payload),
        tiling=bool(payload.get("tiling", False)),
        mask=_input_picture(blobs, payload.get("mask_blob_key")),
    )
    output = image_to_image(engine, spec)
    return store_images(blobs, attempt, output.images, output.seeds), dict(output.lineage)


def run_inpaint(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: dict[str, Any]) -> TaskResult:
    mask = _input_picture(blobs, payload.get("mask_blob_key"))
    if mask is None:
        raise EngineError("an inpainting job needs a mask")
    output = inpaint(engine, InpaintSpec(**_edit_fields(blobs, payload), mask=mask))
    return store_images(blobs, attempt, output.images, output.seeds), dict(output.lineage)


def _edit_fields(blobs: BlobStore, payload: dict[str, Any]) -> dict[str, Any]:
    """What image-to-image and inpainting payloads share: text-to-image's fields plus the
    picture, which the service stored under the generation's own key, and the strength."""
    fields = vars(text_to_image_spec(payload))
    picture = _input_picture(blobs, payload["init_blob_key"])
    del fields["tiling"]
    return {**fields, "image": picture, "strength": float(payload["strength"])}


def _input_picture(blobs: BlobStore, key: str | None) -> Any:
    if key is None:
        return None
    from PIL import Image

    try:
        data = blobs.get(key)
    except BlobNotFound:
        raise EngineError(f"the generation's input picture {key} is missing from blob storage") from None
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def store_images(
    blobs: BlobStore, attempt: Attempt, images: list[Any], seeds: list[int]
) -> list[StoredImage]:
    """Encode and upload a generation's images as PNGs, under the attempt's own keys."""
    stored = []
    for position, (image, seed) in enumerate(zip(images, seeds, strict=True)):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
        key = image_key(attempt.target, position, attempt.lease)
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
    "image_to_image": run_image_to_image,
    "inpaint": run_inpaint,
    **picture_tasks.RUNNERS,  # variations and realtime canvas requests
}
