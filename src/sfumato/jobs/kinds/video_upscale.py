"""Video upscale: a finished clip's frames enlarged one by one (a motion variation)."""

from __future__ import annotations

from dataclasses import dataclass

from sfumato.blobs import BlobNotFound, BlobStore
from sfumato.engine import Engine, EngineError
from sfumato.engine.video_upscale import upscale_frames
from sfumato.jobs.artifacts import Attempt, TaskResult
from sfumato.jobs.kind import JobKind
from sfumato.jobs.subjects import VariationSubject
from sfumato.jobs.writers import store_streamed_mp4
from sfumato.jobs.writers.mp4 import FrameSink, read_mp4_frames
from sfumato.store import queue
from sfumato.store import variations as variation_store

NAME = "video_upscale"
MOTION_VARIATION_EVENT = "motion_variation"  # webhook events motion_variation.complete / .failed


@dataclass(frozen=True, kw_only=True)
class VideoUpscalePayload:
    variation_id: str
    source_key: str  # the clip's MP4
    upscaler: str
    width: int
    height: int
    fps: float
    frames: int
    api_key_id: str | None = None  # whose webhook hears of its end


def output_key(attempt: Attempt, payload: VideoUpscalePayload) -> str:
    return variation_store.blob_key(payload.variation_id, attempt.lease, "mp4")


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: VideoUpscalePayload) -> TaskResult:
    try:
        data = blobs.get(payload.source_key)
    except BlobNotFound:
        raise EngineError("the source clip is gone (deleted before the job ran)") from None
    lineage: dict[str, object] = {}

    def produce(sink: FrameSink) -> None:
        size = (payload.width, payload.height)
        lineage.update(
            upscale_frames(engine, payload.upscaler, read_mp4_frames(data), size, sink, total=payload.frames)
        )

    artifact = store_streamed_mp4(
        blobs, output_key(attempt, payload), produce, payload.fps, with_poster=False
    )
    return [artifact], {**lineage, "fps": payload.fps}


KIND: JobKind[VideoUpscalePayload] = JobKind(
    name=NAME,
    payload=VideoUpscalePayload,
    version=1,
    run=run,
    subject=VariationSubject(),
    lane=queue.BATCH,
    models=lambda payload: (payload.upscaler,),
    output_keys=lambda attempt, payload: [output_key(attempt, payload)],
    artifacts=("video",),
    event=MOTION_VARIATION_EVENT,
    subject_id=lambda payload: payload.variation_id,
)
