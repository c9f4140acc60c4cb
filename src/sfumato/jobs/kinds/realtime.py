"""Realtime canvas requests: one LCM pass (or an upscale with one) while the caller waits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sfumato.blobs import BlobStore
from sfumato.engine import Engine, lcm, upscale
from sfumato.engine.specs import ImageOutput
from sfumato.jobs.artifacts import Attempt, TaskResult, read_picture
from sfumato.jobs.kind import JobKind
from sfumato.jobs.subjects import RealtimeSubject
from sfumato.jobs.writers import store_png
from sfumato.store import queue
from sfumato.store import realtime as realtime_store

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
        mask_key = payload.inputs.get("mask")
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
                mask=read_picture(blobs, mask_key, "the mask", mode="L") if mask_key else None,
            ),
        )
    [image] = output.images
    key = realtime_store.output_key(payload.request_id, attempt.lease)
    seed = output.seeds[0] if output.seeds else None
    return [store_png(blobs, key, image, seed=seed)], dict(output.lineage)


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
