"""Image-to-image and inpainting: a generation that starts from a picture (and a mask).

The service copies the normalised picture and mask under the generation's own keys before
the job is queued, so a retry reads the same bytes whatever happens to the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.engine.errors import EngineError
from sfumato.engine.img2img import ImageToImageSpec, image_to_image
from sfumato.engine.inpaint import InpaintSpec, inpaint
from sfumato.jobs.artifacts import Attempt, TaskResult, read_picture
from sfumato.jobs.kind import JobKind
from sfumato.jobs.kinds.text_to_image import IMAGE_GENERATION_EVENT, TextToImagePayload, generation_outputs
from sfumato.jobs.subjects import GenerationSubject
from sfumato.jobs.writers import store_generation_images
from sfumato.store import queue

IMAGE_TO_IMAGE, INPAINT = "image_to_image", "inpaint"


@dataclass(frozen=True, kw_only=True)
class EditPayload(TextToImagePayload):
    init_blob_key: str
    strength: float  # the share of the noise schedule re-run
    mask_blob_key: str | None = None
    reference_blob_keys: tuple[str, ...] = ()  # pictures shown beside it (inpainting only)


def _common(blobs: BlobStore, payload: EditPayload) -> dict[str, object]:
    spec = payload.spec()
    return {
        "model_key": spec.model_key,
        "prompt": spec.prompt,
        "negative_prompt": spec.negative_prompt,
        "width": spec.width,
        "height": spec.height,
        "steps": spec.steps,
        "guidance_scale": spec.guidance_scale,
        "seeds": spec.seeds,
        "scheduler": spec.scheduler,
        "image": read_picture(blobs, payload.init_blob_key, "the generation's input picture"),
        "strength": payload.strength,
        "previews": payload.previews,
    }


def _mask(blobs: BlobStore, payload: EditPayload) -> object:
    if payload.mask_blob_key is None:
        return None
    return read_picture(blobs, payload.mask_blob_key, "the generation's mask", mode="L")


def run_image_to_image(
    engine: Engine, blobs: BlobStore, attempt: Attempt, payload: EditPayload
) -> TaskResult:
    if payload.reference_blob_keys:
        raise EngineError("reference pictures come with an inpainting job")
    spec = ImageToImageSpec(**_common(blobs, payload), tiling=payload.tiling, mask=_mask(blobs, payload))  # type: ignore[arg-type]
    output = image_to_image(engine, spec)
    return store_generation_images(blobs, attempt, output.images, output.seeds), dict(output.lineage)


def run_inpaint(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: EditPayload) -> TaskResult:
    mask = _mask(blobs, payload)
    if mask is None:
        raise EngineError("an inpainting job needs a mask")
    references = tuple(
        read_picture(blobs, key, f"the generation's reference picture {position}")
        for position, key in enumerate(payload.reference_blob_keys, start=1)
    )
    spec = InpaintSpec(**_common(blobs, payload), mask=mask, references=references)  # type: ignore[arg-type]
    output = inpaint(engine, spec)
    return store_generation_images(blobs, attempt, output.images, output.seeds), dict(output.lineage)


def _declare(name: str, run: object) -> JobKind[EditPayload]:
    return JobKind(
        name=name,
        payload=EditPayload,
        version=1,
        run=run,  # type: ignore[arg-type]
        subject=GenerationSubject(),
        lane=queue.INTERACTIVE,
        models=lambda payload: (payload.model_key,),
        output_keys=generation_outputs,
        event=IMAGE_GENERATION_EVENT,
    )


IMAGE_TO_IMAGE_KIND = _declare(IMAGE_TO_IMAGE, run_image_to_image)
INPAINT_KIND = _declare(INPAINT, run_inpaint)
