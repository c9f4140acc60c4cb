"""Inpainting and outpainting: repaint the white area of a mask, keep the rest exactly.

Two kinds of model run it. An ordinary text-to-image model is turned into an inpainting
pipeline with ``from_pipe`` (sharing its weights, see :mod:`sfumato.engine.editing`); its
UNet never sees the mask, so diffusers blends the kept area's latents back in at every
step. A dedicated inpainting checkpoint (``inpainting = true`` in the catalog; its UNet
takes the mask and the masked picture as extra input channels) sees what it must match and
blends seams better. Either way the VAE cannot reproduce pixels exactly, so the result is
composited: outside the mask every output pixel *is* the input pixel.

Outpainting is inpainting on a larger canvas whose new border is masked:
:func:`expand_canvas` builds that canvas and mask (the canvas API's OUTPAINT and unzoom
both start there).

Public API, for the other image-conditioned tasks: :class:`InpaintSpec` + :func:`inpaint`
(one call: resolve, lease, derive, run, composite) and the two picture helpers
:func:`composite` and :func:`expand_canvas`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfumato.engine import editing, families, in_context, tokens
from sfumato.engine.errors import EngineError
from sfumato.engine.specs import ImageOutput

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine


@dataclass(frozen=True)
class InpaintSpec:
    """Repaint the white area of ``mask`` over ``image``, one output per seed.

    ``image`` (any mode; used as RGB) and ``mask`` (white = repaint, black = keep) must have
    the same size, and are fitted to ``width`` × ``height``, the output's size. ``strength``
    1.0 repaints the masked area from pure noise; lower values start from what is there.
    """

    model_key: str
    prompt: str
    negative_prompt: str | None
    image: Image
    mask: Image
    width: int
    height: int
    steps: int
    guidance_scale: float
    seeds: tuple[int, ...]
    strength: float = 1.0
    scheduler: str | None = None
    previews: int = 0  # partial pictures decoded while it runs (engine/report.py)
    references: tuple[Image, ...] = ()  # pictures shown beside it, in context (engine/in_context.py)


def inpaint(engine: Engine, spec: InpaintSpec) -> ImageOutput:
    """Run ``spec``; outside the mask each output equals the (fitted) input, pixel for pixel.

    Raises :class:`EngineError` for an unknown model, parameters it cannot take, a mask of
    another size than the picture, or a mask that selects nothing.
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
    if spec.mask.size != spec.image.size:
        raise EngineError(
            f"the mask is {spec.mask.size[0]}×{spec.mask.size[1]} but the picture is "
            f"{spec.image.size[0]}×{spec.image.size[1]}; they must match"
        )
    picture = editing.fit(spec.image, spec.width, spec.height)
    mask = editing.fit_mask(spec.mask, spec.width, spec.height)
    if mask.getbbox() is None:
        raise EngineError("the mask selects nothing to repaint (white marks the area to repaint)")
    if len(spec.references) > in_context.MAX_REFERENCES:
        raise EngineError(f"at most {in_context.MAX_REFERENCES} reference pictures go beside the edited one")
    canvas, canvas_mask = picture, mask
    if spec.references:
        canvas, canvas_mask = in_context.stitch(picture, mask, spec.references)
    with engine.pipelines.lease(entry, spec.scheduler) as loaded:
        pipeline = editing.derive(loaded, "inpaint")
        painted = _run(pipeline, loaded.key, entry.family, spec, canvas, canvas_mask)
        lineage = editing.lineage(
            "inpaint",
            loaded,
            pipeline,
            scheduler_name=spec.scheduler,
            steps=spec.steps,
            strength=spec.strength,
            guidance_scale=spec.guidance_scale,
            width=spec.width,
            height=spec.height,
            dedicated_model=editing.is_inpainting_model(pipeline),
            batch_size=len(spec.seeds),
            **_references_lineage(spec),
            **tokens.lineage(pipeline, spec.prompt, spec.negative_prompt),
        )
    if spec.references:
        painted = [in_context.first_cell(image, spec.width, spec.height) for image in painted]
    images = [composite(image, picture, mask) for image in painted]
    return ImageOutput(images=images, seeds=list(spec.seeds), lineage=lineage)


def _references_lineage(spec: InpaintSpec) -> dict[str, object]:
    if not spec.references:
        return {}
    return {"references": len(spec.references), "reference_layout": "side-by-side"}


def composite(painted: Image, original: Image, mask: Image) -> Image:
    """``painted`` where ``mask`` is white, ``original`` where it is black (same sizes)."""
    from PIL import Image as PILImage

    return PILImage.composite(painted.convert("RGB"), original.convert("RGB"), mask.convert("L"))


def expand_canvas(image: Image, *, left: int, top: int, right: int, bottom: int) -> tuple[Image, Image]:
    """A canvas with ``image`` inside a new border, and the mask of that border (white).

    The border starts as the picture's mean colour, a neutral tone for the model to paint
    over (with strength 1.0 it only matters through the dedicated models' masked input).
    """
    from PIL import Image as PILImage
    from PIL import ImageStat

    if min(left, top, right, bottom) < 0:
        raise EngineError("the border to outpaint must not be negative")
    rgb = image.convert("RGB")
    width, height = rgb.width + left + right, rgb.height + top + bottom
    mean = tuple(int(v) for v in ImageStat.Stat(rgb).mean)
    canvas = PILImage.new("RGB", (width, height), mean[:3])
    canvas.paste(rgb, (left, top))
    mask = PILImage.new("L", (width, height), 255)
    mask.paste(0, (left, top, left + rgb.width, top + rgb.height))
    return canvas, mask


def _run(pipeline: Any, key: str, family: str, spec: InpaintSpec, picture: Image, mask: Image) -> list[Image]:
    """Repaint ``picture`` (the fitted picture, or the in-context canvas) at its own size."""
    return editing.draw(
        pipeline,
        key,
        picture.size,
        prompt=spec.prompt,
        **families.call_arguments(family, spec.guidance_scale, spec.negative_prompt),
        image=picture,
        mask_image=mask,
        width=picture.width,
        height=picture.height,
        strength=spec.strength,
        num_inference_steps=spec.steps,
        num_images_per_prompt=len(spec.seeds),
        generator=editing.generators(spec.seeds),
        previews=spec.previews,
        preview_size=(spec.width, spec.height),
    )
