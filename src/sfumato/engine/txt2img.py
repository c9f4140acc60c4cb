"""Text-to-image: one pipeline call for all images of a spec, one seed per image.

Seeding each image with its own CPU generator makes an image depend only on its seed and
settings — not on the device's random stream, nor (beyond float rounding) on which other
images share the batch — which is what lets the worker batch jobs together and lets anyone
replay an image from its lineage.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from sfumato.engine import families, fast_paths, report, tokens
from sfumato.engine.adapters import adapter_set_key, applied, resident_bytes
from sfumato.engine.catalog import Catalog, ModelEntry
from sfumato.engine.errors import EngineError
from sfumato.engine.fast_paths import FastPaths
from sfumato.engine.pipeline_cache import LoadedPipeline, PipelineCache
from sfumato.engine.schedulers import check_scheduler
from sfumato.engine.specs import ImageOutput, TextToImageSpec
from sfumato.engine.tiling import circular_padding

_SIZE_STEP = 8  # the VAE maps 8×8 pixels to one latent in every supported family
_MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed's range


class Engine:
    """The worker's face of inference: resolve a model, keep it warm, run specs on it."""

    def __init__(
        self,
        catalog: Catalog,
        models_dir: Path,
        device: str = "auto",
        max_loaded: int = 2,
        memory_budget: int | None = None,
        fast: FastPaths | None = None,
        warm_shapes: Sequence[str] = (),
    ) -> None:
        """Nothing is loaded until the first run or :meth:`warm`; see PipelineCache for the bounds
        and the fast paths, and :meth:`warm_up` for ``warm_shapes``."""
        self.catalog = catalog
        self.models_dir = models_dir
        self.warm_shapes = [parse_shape(shape) for shape in warm_shapes]
        self.pipelines = PipelineCache(
            catalog, models_dir, device=device, max_loaded=max_loaded, memory_budget=memory_budget, fast=fast
        )

    def warm(self, model_key: str) -> None:
        """Load a model ahead of its first job, so that job is not charged the load time."""
        self.pipelines.get(self._entry(model_key))

    def warm_up(self) -> list[tuple[str, float]]:
        """Run each of ``warm_shapes`` once (two steps, a throw-away seed), so a compiled model
        compiles — or loads its compiled kernels from the cache — before its first job;
        each shape's seconds. A shape whose model cannot run here is logged and skipped."""
        import logging
        import time

        timings = []
        for key, width, height, count in self.warm_shapes:
            started = time.perf_counter()
            spec = TextToImageSpec(model_key=key, prompt="warm-up", negative_prompt=None, width=width,
                                   height=height, steps=2, guidance_scale=7.0,
                                   seeds=tuple(range(count)))  # fmt: skip
            try:
                self.text_to_image(spec)
            except EngineError as exc:
                logging.getLogger(__name__).warning("could not warm %s up: %s", key, exc)
                continue
            timings.append((f"{key}@{width}x{height}x{count}", time.perf_counter() - started))
        return timings

    def loaded_models(self) -> list[str]:
        """Keys of the models in memory, least recently used first."""
        return self.pipelines.loaded_keys()

    def text_to_image(self, spec: TextToImageSpec) -> ImageOutput:
        """Run ``spec`` and return exactly ``len(spec.seeds)`` images of the requested size.

        Raises :class:`EngineError`, with a message meant for the generation's failure
        reason, for an unknown model, absent weights or parameters the model cannot take.
        """
        entry = self._entry(spec.model_key)
        _validate(spec, entry)
        held = resident_bytes(spec.adapters)
        with (
            self.pipelines.lease(entry, spec.scheduler, held) as loaded,
            applied(loaded.pipeline, spec.adapters),
        ):
            images = _run(loaded, spec, entry.family)
        for image in images:
            if image.size != (spec.width, spec.height):
                raise EngineError(
                    f"model {entry.key} drew {image.size[0]}×{image.size[1]} instead of "
                    f"{spec.width}×{spec.height}"
                )
        return ImageOutput(images=images, seeds=list(spec.seeds), lineage=_lineage(spec, loaded))

    def text_to_image_batch(self, specs: Sequence[TextToImageSpec]) -> list[ImageOutput]:
        """Run specs that share a batch key as one pipeline call; one output per spec.

        Each image matches its spec run alone within one uint8 level (see ``batching``).
        """
        from sfumato.engine.batching import text_to_image_batch

        return text_to_image_batch(self, specs)

    def _entry(self, model_key: str) -> ModelEntry:
        entry = self.catalog.resolve(model_key)
        if entry is None:
            raise EngineError(f"unknown model {model_key!r}")
        return entry


def parse_shape(text: str) -> tuple[str, int, int, int]:
    """``"sdxl@1024x1024"`` or ``"sd15@512x512x8"`` (8 images in one call) → (model, width,
    height, images)."""
    key, _, size = text.partition("@")
    numbers = size.lower().split("x")
    if not key or len(numbers) not in (2, 3) or not all(n.isdigit() and int(n) > 0 for n in numbers):
        raise ValueError(f"warm-up shape {text!r} is not MODEL@WIDTHxHEIGHT or MODEL@WIDTHxHEIGHTxIMAGES")
    width, height, count = (int(n) for n in [*numbers, "1"][:3])
    return key, width, height, count


def _validate(spec: TextToImageSpec, entry: ModelEntry) -> None:
    """Refuse what the pipeline would refuse later, in words a client understands."""
    if not spec.seeds:
        raise EngineError("at least one seed (one image) is required")
    for seed in spec.seeds:
        if not 0 <= seed <= _MAX_SEED:
            raise EngineError(f"seed {seed} is outside 0..{_MAX_SEED}")
    for name, value in (("width", spec.width), ("height", spec.height)):
        if value < _SIZE_STEP or value % _SIZE_STEP:
            raise EngineError(f"{name} {value} must be a positive multiple of {_SIZE_STEP}")
    if not 1 <= spec.steps <= entry.max_steps:
        raise EngineError(f"steps must be between 1 and {entry.max_steps} for {entry.key}")
    if spec.guidance_scale < 0:
        raise EngineError("guidance scale must not be negative")
    check_scheduler(spec.scheduler)
    refusal = families.refusal(
        entry.family,
        width=spec.width,
        height=spec.height,
        guidance_scale=spec.guidance_scale,
        negative_prompt=spec.negative_prompt,
        scheduler=spec.scheduler,
        tiling=spec.tiling,
    )
    if refusal is not None:
        raise EngineError(refusal)


def _run(loaded: LoadedPipeline, spec: TextToImageSpec, family: str = "") -> list[Any]:
    import torch

    pipeline = loaded.pipeline
    generators = [torch.Generator("cpu").manual_seed(seed) for seed in spec.seeds]
    kwargs: dict[str, Any] = {
        "prompt": spec.prompt,
        **families.call_arguments(family, spec.guidance_scale, spec.negative_prompt),
        **families.size_arguments(family, spec.width, spec.height),
        "num_inference_steps": spec.steps,
        "num_images_per_prompt": len(spec.seeds),
        "generator": generators,
        "output_type": "pil",
        "callback_on_step_end": report.step_callback(spec.previews, (spec.width, spec.height)),
    }
    modules = (pipeline.unet, pipeline.vae) if spec.tiling else ()
    try:
        with circular_padding(*modules), fast_paths.running(pipeline, loaded.fast, bool(spec.adapters)):
            return list(pipeline(**kwargs).images)
    except ValueError as exc:  # diffusers' input checks: the request's fault, say so
        raise EngineError(f"model {loaded.key} refused the request: {exc}") from exc


def _lineage(spec: TextToImageSpec, loaded: LoadedPipeline) -> dict[str, object]:
    """Everything needed to reproduce the images, beside their seeds and prompt."""
    return {
        "task": "text_to_image",
        "model_key": loaded.key,
        "weights_hash": loaded.fingerprint,
        **loaded.vae_lineage(),
        "scheduler": type(loaded.pipeline.scheduler).__name__,
        "scheduler_name": spec.scheduler,
        "steps": spec.steps,
        "guidance_scale": spec.guidance_scale,
        "width": spec.width,
        "height": spec.height,
        "tiling": spec.tiling,
        **({"adapters": adapter_set_key(spec.adapters)} if spec.adapters else {}),
        "batch_size": len(spec.seeds),  # images in the pipeline call: a batch changes float rounding
        "batch_position": 0,  # where this spec's first image sat in that call
        "batch_jobs": 1,
        "device": loaded.device,
        "dtype": loaded.dtype,
        **({"fast_paths": list(loaded.fast_names)} if loaded.fast_names else {}),
        **(
            {"feature_reuse": loaded.fast.feature_reuse}
            if fast_paths.reuses_features(loaded.pipeline, loaded.fast)
            else {}
        ),
        **tokens.lineage(loaded.pipeline, spec.prompt, spec.negative_prompt),
        **_library_versions(),
    }


@cache
def _library_versions() -> dict[str, str]:
    versions = {}
    for name in ("torch", "diffusers", "transformers"):
        try:
            versions[f"{name}_version"] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[f"{name}_version"] = "unknown"
    return versions
