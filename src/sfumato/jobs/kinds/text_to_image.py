"""Text-to-image: a prompt and settings in, one image per seed out; batches with its like."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.engine.batching import batch_key
from sfumato.engine.specs import TextToImageSpec
from sfumato.jobs.artifacts import Attempt, TaskResult, image_key, preview_key
from sfumato.jobs.kind import JobKind
from sfumato.jobs.loras import LoraRef, read_adapters
from sfumato.jobs.subjects import GenerationSubject
from sfumato.jobs.writers import store_generation_images
from sfumato.store import queue

NAME = "text_to_image"
IMAGE_GENERATION_EVENT = "image_generation"  # every generation's webhook events, whatever its kind


@dataclass(frozen=True, kw_only=True)
class TextToImagePayload:
    """What a generation's images are drawn from (after styles and prompt enhancement)."""

    model_key: str
    prompt: str
    negative_prompt: str | None = None
    width: int
    height: int
    steps: int
    guidance_scale: float
    seeds: tuple[int, ...]
    scheduler: str | None = None
    tiling: bool = False
    adapters: tuple[LoraRef, ...] = ()  # a custom model's and elements' LoRAs, with their weights
    previews: int = 0  # partial pictures a streaming client waits for (never batched: see batch_key)

    def spec(self, blobs: BlobStore | None = None) -> TextToImageSpec:
        return TextToImageSpec(
            model_key=self.model_key,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            width=self.width,
            height=self.height,
            steps=self.steps,
            guidance_scale=self.guidance_scale,
            seeds=self.seeds,
            scheduler=self.scheduler,
            tiling=self.tiling,
            adapters=read_adapters(blobs, self.adapters),
            previews=self.previews,
        )


def generation_outputs(attempt: Attempt, payload: TextToImagePayload) -> list[str]:
    """One image per seed, under the attempt's keys, and the previews it was asked for."""
    images = [image_key(attempt.target, position, attempt.lease) for position in range(len(payload.seeds))]
    return images + [preview_key(attempt, index) for index in range(payload.previews)]


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: TextToImagePayload) -> TaskResult:
    output = engine.text_to_image(payload.spec(blobs))
    return store_generation_images(blobs, attempt, output.images, output.seeds), dict(output.lineage)


def run_batch(
    engine: Engine, blobs: BlobStore, jobs: Sequence[tuple[Attempt, TextToImagePayload]]
) -> list[TaskResult]:
    outputs = engine.text_to_image_batch([payload.spec(blobs) for _, payload in jobs])
    return [
        (store_generation_images(blobs, attempt, output.images, output.seeds), dict(output.lineage))
        for (attempt, _), output in zip(jobs, outputs, strict=True)
    ]


KIND: JobKind[TextToImagePayload] = JobKind(
    name=NAME,
    payload=TextToImagePayload,
    version=1,
    run=run,
    run_batch=run_batch,
    # A run's previews are of its first picture, so a job that wants them runs alone.
    batch_key=lambda payload: None if payload.previews else batch_key(NAME, vars(payload)),
    subject=GenerationSubject(),
    lane=queue.INTERACTIVE,
    models=lambda payload: (payload.model_key,),
    output_keys=generation_outputs,
    event=IMAGE_GENERATION_EVENT,
)
