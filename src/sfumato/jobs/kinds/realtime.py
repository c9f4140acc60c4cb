"""Realtime canvas requests: one LCM pass (or an upscale with one) while the caller waits."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sfumato.blobs import BlobStore
from sfumato.engine import Engine, lcm, report, upscale
from sfumato.engine.specs import ImageOutput
from sfumato.jobs.artifacts import Attempt, TaskResult, read_picture
from sfumato.jobs.kind import JobKind
from sfumato.jobs.subjects import RealtimeSubject
from sfumato.jobs.writers import store_png
from sfumato.store import queue
from sfumato.store import realtime as realtime_store

if TYPE_CHECKING:
    from PIL.Image import Image

NAME = "realtime_canvas"


@dataclass(frozen=True, kw_only=True)
class RealtimePayload:
    request_id: str
    operation: Literal["generate", "refine", "inpaint", "upscale"]
    inputs: dict[str, str] = field(default_factory=dict)  # role ("image", "mask") → blob key
    model_key: str
    prompt: str
    steps: int
    guidance_scale: float
    strength: float
    seed: int
    upscaler: str
    multiplier: float

    def models(self) -> tuple[str, ...]:
        return (self.model_key, self.upscaler) if self.operation == "upscale" else (self.model_key,)


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: RealtimePayload) -> TaskResult:
    canvas = read_picture(blobs, payload.inputs["image"], "the canvas")
    mask_key = payload.inputs.get("mask")
    mask = read_picture(blobs, mask_key, "the mask", mode="L") if mask_key else None
    image, seed, lineage = render(engine, payload, canvas, mask)
    key = realtime_store.output_key(payload.request_id, attempt.lease)
    return [store_png(blobs, key, image, seed=seed)], lineage


def run_in_memory(
    engine: Engine, payload: RealtimePayload, pictures: Mapping[str, Image]
) -> tuple[bytes, dict[str, object]]:
    """The request run on pictures already decoded, its output PNG returned rather than stored.

    For the worker that shares the waiting server's process (``jobs.hand_off``): the pictures
    are the ones the service stored under ``payload.inputs``, so the pixels are the same as
    :func:`run` gives.
    """
    canvas = _as_mode(pictures["image"], "RGB")
    mask = _as_mode(pictures["mask"], "L") if "mask" in pictures else None
    image, _seed, lineage = render(engine, payload, canvas, mask)
    report.stage(report.UPLOADING)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # sent once, now: speed over size
    return buffer.getvalue(), lineage


def keep_inputs(blobs: BlobStore, payload: RealtimePayload, pictures: Mapping[str, Image]) -> None:
    """Store a handed-over request's pictures where :func:`run` reads them (its run failed
    and it will be retried the general way, perhaps by another worker)."""
    for role, key in payload.inputs.items():
        buffer = io.BytesIO()
        pictures[role].save(buffer, format="PNG", compress_level=1)
        blobs.put(key, buffer.getvalue(), "image/png")


def render(
    engine: Engine, payload: RealtimePayload, canvas: Image, mask: Image | None
) -> tuple[Image, int | None, dict[str, object]]:
    """The engine call of a request: its one output picture, its seed and its lineage."""
    output: ImageOutput
    if payload.operation == "upscale":
        creative = upscale.CreativePass(
            model_key=payload.model_key,
            prompt=payload.prompt,
            strength=payload.strength,
            steps=payload.steps,
            guidance_scale=payload.guidance_scale,
            seed=payload.seed,
        )
        spec = upscale.UpscaleSpec(
            image=canvas, multiplier=payload.multiplier, upscaler=payload.upscaler, creative=creative
        )
        output = upscale.upscale(engine, spec)
    else:
        output = lcm.run(
            engine,
            lcm.CanvasSpec(
                model_key=payload.model_key,
                prompt=payload.prompt,
                image=canvas,
                steps=payload.steps,
                guidance_scale=payload.guidance_scale,
                strength=payload.strength,
                seed=payload.seed,
                mask=mask,
            ),
        )
    [image] = output.images
    return image, (output.seeds[0] if output.seeds else None), dict(output.lineage)


def _as_mode(picture: Image, mode: str) -> Image:
    return picture if picture.mode == mode else picture.convert(mode)


KIND: JobKind[RealtimePayload] = JobKind(
    name=NAME,
    payload=RealtimePayload,
    version=1,
    run=run,
    subject=RealtimeSubject(),
    lane=queue.REALTIME,
    models=RealtimePayload.models,
    output_keys=lambda attempt, payload: [realtime_store.output_key(payload.request_id, attempt.lease)],
    event=None,  # the caller is waiting for the answer: no webhook
    subject_id=lambda payload: payload.request_id,
)
