"""Realtime canvas: a few-step model turns a canvas into a picture in 2-8 steps.

Two families serve the canvas. A latent consistency model (LCM) is SD 1.5 distilled so that
every step jumps most of the way to a clean image, and its UNet takes the guidance scale as
an input (``time_cond_proj_dim``) instead of running a second, unconditional pass: one step
is one UNet call. SDXL-Lightning is SDXL distilled to draw in 2-8 trailing steps without
guidance: the canvas runs it at guidance 0 (no unconditional pass) whatever the request
asks, and records the guidance it used in the lineage. All canvas operations are
image-conditioned: ``strength`` says how far the result may move from the canvas (1.0
ignores it), and inpainting (through :mod:`sfumato.engine.inpaint`) repaints only where the
mask is white and keeps every other pixel exactly.

The model stays loaded: the first run pins it in the engine's pipeline cache, so batch work
on other models never evicts it and a realtime request never pays a load.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfumato.engine import editing, report
from sfumato.engine.catalog import ModelEntry
from sfumato.engine.errors import EngineError
from sfumato.engine.inpaint import InpaintSpec, inpaint
from sfumato.engine.pipeline_cache import LoadedPipeline
from sfumato.engine.specs import ImageOutput

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

LCM_FAMILY = "lcm"
# The few-step families that can serve the canvas (and the upscaler's creative pass).
CANVAS_FAMILIES = (LCM_FAMILY, "sdxl-lightning")
MIN_STEPS, MAX_STEPS = 1, 16
_SIZE_STEP = 8


@dataclass(frozen=True)
class CanvasSpec:
    """One realtime canvas run on ``image`` (RGB; its size is the output's size).

    ``mask`` (mode "L", same size) turns the run into inpainting: white is repainted,
    black kept exactly as it was.
    """

    model_key: str
    prompt: str
    image: Image
    steps: int
    guidance_scale: float
    strength: float
    seed: int
    mask: Image | None = None


def serves_canvas(entry: ModelEntry) -> bool:
    return entry.family in CANVAS_FAMILIES


def canvas_guidance(entry: ModelEntry, requested: float) -> float:
    """The guidance a canvas run uses: the request's on an LCM; none on a model distilled without it."""
    return requested if entry.family == LCM_FAMILY else 0.0


def _refuse_other(entry: ModelEntry) -> None:
    if not serves_canvas(entry):
        raise EngineError(f"model {entry.key} is not a few-step canvas model (LCM or SDXL-Lightning)")


def check(spec: CanvasSpec, entry: ModelEntry) -> None:
    """Refuse what the pipeline would refuse later, in words a client understands."""
    _refuse_other(entry)
    width, height = spec.image.size
    for name, value in (("width", width), ("height", height)):
        if value < _SIZE_STEP or value % _SIZE_STEP:
            raise EngineError(f"{name} {value} must be a positive multiple of {_SIZE_STEP}")
    if not MIN_STEPS <= spec.steps <= min(MAX_STEPS, entry.max_steps):
        raise EngineError(f"steps must be between {MIN_STEPS} and {min(MAX_STEPS, entry.max_steps)}")
    if not 0 < spec.strength <= 1:
        raise EngineError("strength must be above 0 and at most 1")
    if int(spec.steps * spec.strength) < 1:
        raise EngineError(
            f"strength {spec.strength} leaves no denoising step out of {spec.steps}: "
            "raise steps or strength so that steps × strength is at least 1"
        )
    if spec.mask is not None and spec.mask.size != spec.image.size:
        raise EngineError("the mask must have the image's size")


def run(engine: Engine, spec: CanvasSpec) -> ImageOutput:
    """Image-to-image, or inpainting when the spec has a mask; one image out, the input's size."""
    entry = _entry(engine, spec.model_key)
    check(spec, entry)
    guidance = canvas_guidance(entry, spec.guidance_scale)
    if spec.mask is not None:
        engine.pipelines.pin(entry.key)
        width, height = spec.image.size
        painted = inpaint(
            engine,
            InpaintSpec(
                model_key=entry.key,
                prompt=spec.prompt,
                negative_prompt=None,
                image=spec.image,
                mask=spec.mask,
                width=width,
                height=height,
                steps=spec.steps,
                guidance_scale=guidance,
                seeds=(spec.seed,),
                strength=spec.strength,
            ),
        )
        return ImageOutput(painted.images, painted.seeds, {**painted.lineage, "task": "lcm_inpaint"})
    with lease(engine, entry) as loaded:
        [image] = refine_images(
            loaded,
            [spec.image],
            prompt=spec.prompt,
            steps=spec.steps,
            guidance_scale=guidance,
            strength=spec.strength,
            seeds=[spec.seed],
        )
    lineage: dict[str, object] = {
        "task": "lcm_image_to_image",
        "model_key": loaded.key,
        "weights_hash": loaded.fingerprint,
        **loaded.vae_lineage(),
        "scheduler": type(loaded.pipeline.scheduler).__name__,
        "steps": spec.steps,
        "guidance_scale": guidance,
        "strength": spec.strength,
        "width": image.width,
        "height": image.height,
        "device": loaded.device,
        "dtype": loaded.dtype,
    }
    return ImageOutput(images=[image], seeds=[spec.seed], lineage=lineage)


@contextmanager
def lease(engine: Engine, entry: ModelEntry) -> Iterator[LoadedPipeline]:
    """Hold the canvas pipeline for one run, pinned so that it stays loaded after it."""
    _refuse_other(entry)
    engine.pipelines.pin(entry.key)
    with engine.pipelines.lease(entry) as loaded:
        yield loaded


def refine_images(
    loaded: LoadedPipeline,
    images: Sequence[Image],
    *,
    prompt: str,
    steps: int,
    guidance_scale: float,
    strength: float,
    seeds: Sequence[int],
) -> list[Image]:
    """Few-step image-to-image over same-sized images in one pipeline call, one seed each.

    The upscaler's creative pass sends its tiles through here as one batch.
    """
    pipeline = editing.derive(loaded, "image_to_image")
    try:
        result = pipeline(
            prompt=[prompt] * len(images),
            image=list(images),
            num_inference_steps=steps,
            strength=strength,
            guidance_scale=guidance_scale,
            generator=editing.generators(tuple(seeds)),
            output_type="pil",
            callback_on_step_end=report.on_step,
        )
    except ValueError as exc:  # diffusers' input checks: the request's fault, say so
        raise EngineError(f"model {loaded.key} refused the request: {exc}") from exc
    return list(result.images)


def _entry(engine: Engine, model_key: str) -> ModelEntry:
    entry = engine.catalog.resolve(model_key)
    if entry is None:
        raise EngineError(f"unknown model {model_key!r}")
    return entry
