"""What image-to-image and inpainting share: the task's pipeline derived from the loaded
one, checks worded for a client, and input pictures fitted to the output size.

**No second copy of the weights.** A task pipeline is built with diffusers' ``from_pipe``
over the pipeline the cache already holds: the UNet, VAE, text encoders and tokenizers are
the very same objects, so deriving one costs about a millisecond and no memory (measured
on an H200 with SD 1.5 in fp16: not one byte more allocated after deriving both task
pipelines; ``benchmarks/edit_sharing.py``). One trap is avoided on purpose: a pipeline
class's own ``from_pipe`` (used below for LCM inpainting) ends with ``.to(dtype)``, float32
unless told otherwise, and since the modules are shared that would convert a GPU's float16
weights in place, doubling their memory for every later run; :func:`derive` passes the
loaded dtype (tests/engine/test_img2img.py shows the cast it prevents).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from sfumato.engine import families, report
from sfumato.engine.errors import EngineError
from sfumato.engine.schedulers import check_scheduler

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.catalog import ModelEntry
    from sfumato.engine.pipeline_cache import LoadedPipeline
    from sfumato.engine.txt2img import Engine

Task = Literal["image_to_image", "inpaint"]
SIZE_STEP = 8  # the VAE maps 8×8 pixels to one latent in every supported family
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed's range
_INPAINTING_CHANNELS = 9  # latent + mask + masked-picture latent


def resolve(engine: Engine, model_key: str) -> ModelEntry:
    entry = engine.catalog.resolve(model_key)
    if entry is None:
        raise EngineError(f"unknown model {model_key!r}")
    return entry


def check(
    entry: ModelEntry,
    *,
    width: int,
    height: int,
    steps: int,
    guidance_scale: float,
    strength: float,
    seeds: tuple[int, ...],
    scheduler: str | None,
    negative_prompt: str | None = None,
) -> None:
    """Refuse what the pipeline would refuse later, in words a client understands."""
    if not seeds:
        raise EngineError("at least one seed (one image) is required")
    for seed in seeds:
        if not 0 <= seed <= MAX_SEED:
            raise EngineError(f"seed {seed} is outside 0..{MAX_SEED}")
    for name, value in (("width", width), ("height", height)):
        if value < SIZE_STEP or value % SIZE_STEP:
            raise EngineError(f"{name} {value} must be a positive multiple of {SIZE_STEP}")
    if not 1 <= steps <= entry.max_steps:
        raise EngineError(f"steps must be between 1 and {entry.max_steps} for {entry.key}")
    if guidance_scale < 0:
        raise EngineError("guidance scale must not be negative")
    if not 0 < strength <= 1:
        raise EngineError("strength must be above 0 and at most 1")
    if int(steps * strength) < 1:
        raise EngineError(
            f"strength {strength:g} leaves no denoising step out of {steps}: "
            "raise the steps or the strength so that steps × strength is at least 1"
        )
    check_scheduler(scheduler)
    refusal = families.refusal(
        entry.family,
        width=width,
        height=height,
        guidance_scale=guidance_scale,
        negative_prompt=negative_prompt,
        scheduler=scheduler,
        tiling=False,
    )
    if refusal is not None:
        raise EngineError(refusal)


def derive(loaded: LoadedPipeline, task: Task) -> Any:
    """``task``'s pipeline over ``loaded``'s own modules: nothing is copied, loaded or cast."""
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

    base = loaded.pipeline
    dedicated = is_inpainting_model(base)
    if task == "image_to_image" and dedicated:
        raise EngineError(
            f"model {loaded.key} is an inpainting model: it repaints a masked area and cannot "
            "run image-to-image; use it for canvas INPAINT or OUTPAINT"
        )
    auto: Any = AutoPipelineForInpainting if task == "inpaint" else AutoPipelineForImage2Image
    if task == "inpaint" and type(base).__name__ == "LatentConsistencyModelPipeline":
        # diffusers links no inpainting pipeline to LCMs; SD's own runs them, feeding the LCM
        # UNet the guidance scale it embeds (time_cond_proj_dim) instead of a second pass.
        from diffusers import StableDiffusionInpaintPipeline

        auto = StableDiffusionInpaintPipeline
    _silence_dtype_warning()
    try:
        pipeline = auto.from_pipe(base, dtype=base.dtype)
    except ValueError as exc:
        raise EngineError(f"model {loaded.key} has no {task.replace('_', '-')} pipeline: {exc}") from exc
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def is_inpainting_model(pipeline: Any) -> bool:
    """A dedicated inpainting checkpoint: its UNet also takes the mask and the masked picture."""
    unet = getattr(pipeline, "unet", None)
    return unet is not None and unet.config.in_channels == _INPAINTING_CHANNELS


def fit(image: Image, width: int, height: int) -> Image:
    """``image`` as RGB at the output size (stretched if the aspect differs; the service
    chooses sizes that keep it)."""
    from PIL import Image as PILImage

    rgb = image.convert("RGB")
    return rgb if rgb.size == (width, height) else rgb.resize((width, height), PILImage.Resampling.LANCZOS)


def fit_mask(mask: Image, width: int, height: int) -> Image:
    """A binary "L" mask at the output size: 255 repaint, 0 keep (nearest: it stays binary)."""
    from PIL import Image as PILImage

    binary = mask.convert("L").point(lambda v: 255 if v >= 128 else 0)
    if binary.size == (width, height):
        return binary
    return binary.resize((width, height), PILImage.Resampling.NEAREST)


def generators(seeds: tuple[int, ...]) -> list[Any]:
    """One CPU generator per image: an image depends only on its own seed."""
    import torch

    return [torch.Generator("cpu").manual_seed(seed) for seed in seeds]


def draw(
    pipeline: Any,
    key: str,
    size: tuple[int, int],
    *,
    previews: Any = 0,  # Any: callers spread families' dict[str, object] keywords beside these
    preview_size: Any = None,
    **call: Any,
) -> list[Image]:
    """Run an editing pipeline and insist on pictures of the promised ``size``; ``previews``
    partial pictures (cropped to ``preview_size``) go to the preview sink as it runs.

    diffusers raises ValueError for inputs it refuses (too few steps for the strength,
    sizes it cannot handle): those are the request's fault, so they become EngineError.
    """
    try:
        callback = report.step_callback(previews, size, preview_size)
        result = pipeline(output_type="pil", callback_on_step_end=callback, **call)
    except ValueError as exc:
        raise EngineError(f"model {key} refused the request: {exc}") from exc
    images = list(result.images)
    for image in images:
        if image.size != size:
            drawn, wanted = "×".join(map(str, image.size)), "×".join(map(str, size))
            raise EngineError(f"model {key} drew {drawn} instead of {wanted}")
    return images


def lineage(task: Task, loaded: LoadedPipeline, pipeline: Any, **facts: object) -> dict[str, object]:
    """Everything needed to reproduce an edit, beside its seeds, prompt and input pictures."""
    from sfumato.engine.txt2img import _library_versions

    return {
        "task": task,
        "model_key": loaded.key,
        "weights_hash": loaded.fingerprint,
        **loaded.vae_lineage(),
        "pipeline": type(pipeline).__name__,
        "scheduler": type(pipeline.scheduler).__name__,
        **facts,
        "device": loaded.device,
        "dtype": loaded.dtype,
        **_library_versions(),
    }


@cache
def _silence_dtype_warning() -> None:
    """diffusers warns about float32-kept modules whenever ``to(dtype=…)`` is called, even with
    the dtype the modules already have (as :func:`derive` does); that one line is noise."""
    logging.getLogger("diffusers.models.modeling_utils").addFilter(
        lambda record: "should be kept in float32" not in record.getMessage()
    )
