"""Image-to-image: denoise from a picture instead of from pure noise.

``strength`` (0 < s ≤ 1) is how much of the noise schedule is re-run over the picture: near
0 the output stays close to it, at 1 the picture only seeds the noise. (Leonardo's
``init_strength`` is the opposite dial, how strongly the output should reflect the picture;
the service translates.) An optional mask restricts the change to its white area, the rest
of the picture being kept pixel for pixel (canvas IMG2IMG and SKETCH2IMG).

The pipeline is derived from the loaded text-to-image pipeline and shares its weights (see
:mod:`sfumato.engine.editing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfumato.engine import editing, families, tokens
from sfumato.engine.inpaint import composite
from sfumato.engine.specs import ImageOutput
from sfumato.engine.tiling import circular_padding

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine


@dataclass(frozen=True)
class ImageToImageSpec:
    """One image-to-image run: every image starts from ``image``, each with its own seed.

    ``image`` may have any size; it is fitted to ``width`` × ``height``, the output's size.
    ``mask`` ("L", white = may change) keeps everything outside it exactly as in ``image``.
    """

    model_key: str
    prompt: str
    negative_prompt: str | None
    image: Image
    width: int
    height: int
    steps: int
    guidance_scale: float
    strength: float
    seeds: tuple[int, ...]
    scheduler: str | None = None
    tiling: bool = False
    mask: Image | None = None
    previews: int = 0  # partial pictures decoded while it runs (engine/report.py)


def image_to_image(engine: Engine, spec: ImageToImageSpec) -> ImageOutput:
    """Run ``spec``: ``len(spec.seeds)`` images of the requested size, and their lineage.

    Raises :class:`EngineError` for an unknown model, parameters it cannot take, or a
    dedicated inpainting model (which needs a mask and the inpainting task).
    """
    entry = editing.resolve(engine, spec.model_key)
    editing.check(
        entry,
        width=spec.width,
        height=spec.height,
        steps=spec.steps,
        guidance_scale=spec.guidance_scale,
        strength=spec.strength,
        seeds=spec.seeds,
        scheduler=spec.scheduler,
        negative_prompt=spec.negative_prompt,
    )
    picture = editing.fit(spec.image, spec.width, spec.height)
    mask = editing.fit_mask(spec.mask, spec.width, spec.height) if spec.mask is not None else None
    with engine.pipelines.lease(entry, spec.scheduler) as loaded:
        pipeline = editing.derive(loaded, "image_to_image")
        images = _run(pipeline, loaded.key, entry.family, spec, picture)
        lineage = editing.lineage(
            "image_to_image",
            loaded,
            pipeline,
            scheduler_name=spec.scheduler,
            steps=spec.steps,
            strength=spec.strength,
            guidance_scale=spec.guidance_scale,
            width=spec.width,
            height=spec.height,
            tiling=spec.tiling,
            masked=mask is not None,
            batch_size=len(spec.seeds),
            **tokens.lineage(pipeline, spec.prompt, spec.negative_prompt),
        )
    if mask is not None:
        images = [composite(image, picture, mask) for image in images]
    return ImageOutput(images=images, seeds=list(spec.seeds), lineage=lineage)


def _run(pipeline: Any, key: str, family: str, spec: ImageToImageSpec, picture: Image) -> list[Image]:
    modules = (pipeline.unet, pipeline.vae) if spec.tiling else ()
    with circular_padding(*modules):
        return editing.draw(
            pipeline,
            key,
            (spec.width, spec.height),
            prompt=spec.prompt,
            **families.call_arguments(family, spec.guidance_scale, spec.negative_prompt),
            image=picture,
            **families.edit_arguments(family, spec.width, spec.height, spec.strength),
            num_inference_steps=spec.steps,
            num_images_per_prompt=len(spec.seeds),
            generator=editing.generators(spec.seeds),
            previews=spec.previews,
        )
