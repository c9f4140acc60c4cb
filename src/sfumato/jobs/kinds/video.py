"""Video: a clip drawn from text, from a first (and last) frame, or a picture set in motion.

One kind for the three wire operations (text-to-video, image-to-video, SVD motion): they
differ only in which pictures the payload names, which the engine reads as the task. The
frames go from the decoder straight to the MP4 encoder; the clip is recorded on its
generation as one generated image (the poster) carrying the video.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.engine.video import VideoSpec, generate
from sfumato.jobs.artifacts import Attempt, TaskResult, artifact_key, poster_key, read_picture
from sfumato.jobs.kind import JobKind
from sfumato.jobs.subjects import GenerationSubject
from sfumato.jobs.writers import store_streamed_mp4
from sfumato.store import queue

NAME = "video"
VIDEO_GENERATION_EVENT = "video_generation"  # webhook events video_generation.complete / .failed


@dataclass(frozen=True, kw_only=True)
class VideoPayload:
    """One clip; ``image_key`` / ``end_image_key`` are the pictures the service stored for it."""

    model_key: str
    prompt: str
    negative_prompt: str | None = None
    width: int
    height: int
    frames: int
    fps: int
    steps: int
    guidance_scale: float
    seed: int
    image_key: str | None = None
    end_image_key: str | None = None
    motion_bucket: int | None = None


def video_key(attempt: Attempt) -> str:
    """Where an attempt puts the clip (its poster beside it)."""
    return artifact_key(attempt.target, attempt.lease, 0, "mp4")


def run(engine: Engine, blobs: BlobStore, attempt: Attempt, payload: VideoPayload) -> TaskResult:
    image = read_picture(blobs, payload.image_key, "the first frame's picture") if payload.image_key else None
    end_image = (
        read_picture(blobs, payload.end_image_key, "the end frame's picture")
        if payload.end_image_key
        else None
    )
    spec = VideoSpec(
        model_key=payload.model_key,
        prompt=payload.prompt,
        negative_prompt=payload.negative_prompt,
        width=payload.width,
        height=payload.height,
        frames=payload.frames,
        fps=payload.fps,
        steps=payload.steps,
        guidance_scale=payload.guidance_scale,
        seed=payload.seed,
        image=image,
        end_image=end_image,
        motion_bucket=payload.motion_bucket,
    )
    lineage: dict[str, object] = {}

    def produce(sink: object) -> None:
        lineage.update(generate(engine, spec, sink).lineage)  # type: ignore[arg-type]

    artifact = store_streamed_mp4(blobs, video_key(attempt), produce, payload.fps, seed=payload.seed)
    return [artifact], lineage


KIND: JobKind[VideoPayload] = JobKind(
    name=NAME,
    payload=VideoPayload,
    version=1,
    run=run,
    subject=GenerationSubject(),
    lane=queue.BATCH,
    models=lambda payload: (payload.model_key,),
    output_keys=lambda attempt, payload: [video_key(attempt), poster_key(video_key(attempt))],
    artifacts=("video",),
    event=VIDEO_GENERATION_EVENT,
)
