"""Dynamic batching: several text-to-image specs as one pipeline call, one generator per image.

Specs may share a call when everything but their prompts and seeds agrees — that is the
batch key. Each image keeps its own CPU generator, so its starting noise (and, for
ancestral schedulers, every later draw) depends only on its seed; what batching changes
is float rounding in the wider matrix products, which moves a pixel by at most one uint8
level. The lineage records the call's size and each spec's position in it, so a batched
image can be replayed bit for bit by rerunning the same batch shape.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sfumato.engine import families, fast_paths, report
from sfumato.engine.adapters import adapter_set_key, applied, resident_bytes
from sfumato.engine.errors import EngineError
from sfumato.engine.specs import ImageOutput, TextToImageSpec

if TYPE_CHECKING:
    from sfumato.engine.pipeline_cache import LoadedPipeline
    from sfumato.engine.txt2img import Engine

TEXT_TO_IMAGE = "text_to_image"


def batch_key(task: str, params: Mapping[str, Any]) -> str:
    """The key shared by jobs that can run in one call: task, model, size, steps, sampler, guidance.

    Whether a negative prompt is given at all is part of the key: SDXL encodes "no
    negative prompt" as zeros but an empty one as text, so the two cannot be mixed.
    """
    parts = (
        task,
        str(params["model_key"]),
        str(int(params["width"])),
        str(int(params["height"])),
        str(int(params["steps"])),
        repr(float(params["guidance_scale"])),
        str(params.get("scheduler")),
        str(bool(params.get("tiling", False))),
        str(params.get("negative_prompt") is not None),
        adapter_set_key(params.get("adapters", ())),  # jobs share a call only with the same adapters
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def spec_key(spec: TextToImageSpec) -> str:
    return batch_key(TEXT_TO_IMAGE, vars(spec))


def text_to_image_batch(engine: Engine, specs: Sequence[TextToImageSpec]) -> list[ImageOutput]:
    """Run ``specs`` (which must share a batch key) as one call; one output per spec, in order."""
    from sfumato.engine import txt2img

    if not specs:
        return []
    keys = {spec_key(spec) for spec in specs}
    if len(keys) != 1:
        raise EngineError("specs of one batch must agree on everything but prompt and seeds")
    first = specs[0]
    entry = engine._entry(first.model_key)
    for spec in specs:
        txt2img._validate(spec, entry)
    held = resident_bytes(first.adapters)
    with (
        engine.pipelines.lease(entry, first.scheduler, held) as loaded,
        applied(loaded.pipeline, first.adapters),
    ):
        images = _run(loaded, specs, entry.family)
    outputs, position = [], 0
    for spec in specs:
        count = len(spec.seeds)
        own = images[position : position + count]
        for image in own:
            if image.size != (spec.width, spec.height):
                size = f"{spec.width}×{spec.height}"
                raise EngineError(f"model {entry.key} drew {image.size} instead of {size}")
        lineage = {
            **txt2img._lineage(spec, loaded),
            "batch_size": len(images),
            "batch_position": position,
            "batch_jobs": len(specs),
        }
        outputs.append(ImageOutput(images=own, seeds=list(spec.seeds), lineage=lineage))
        position += count
    return outputs


def _run(loaded: LoadedPipeline, specs: Sequence[TextToImageSpec], family: str = "") -> list[Any]:
    import torch

    from sfumato.engine.tiling import circular_padding

    first = specs[0]
    prompts = [spec.prompt for spec in specs for _ in spec.seeds]
    negatives = [spec.negative_prompt or "" for spec in specs for _ in spec.seeds]
    seeds = [seed for spec in specs for seed in spec.seeds]
    kwargs: dict[str, Any] = {
        "prompt": prompts,
        **families.call_arguments(
            family, first.guidance_scale, negatives if first.negative_prompt is not None else None
        ),
        **families.size_arguments(family, first.width, first.height),
        "num_inference_steps": first.steps,
        "num_images_per_prompt": 1,
        "generator": [torch.Generator("cpu").manual_seed(seed) for seed in seeds],
        "output_type": "pil",
        "callback_on_step_end": report.on_step,
    }
    pipeline = loaded.pipeline
    modules = (pipeline.unet, pipeline.vae) if first.tiling else ()
    try:
        with circular_padding(*modules), fast_paths.running(pipeline, loaded.fast, bool(first.adapters)):
            return list(pipeline(**kwargs).images)
    except ValueError as exc:
        raise EngineError(f"model {loaded.key} refused the request: {exc}") from exc
