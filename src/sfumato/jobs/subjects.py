"""Where jobs record their end: a generation, a variation, a realtime request.

Each runs inside the transaction that holds the job's lease, so the subject's new state,
the refund of a failure and the job's own state commit together or not at all.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from sfumato.jobs.artifacts import VIDEO, Artifact
from sfumato.store import commits, credits
from sfumato.store import realtime as realtime_store
from sfumato.store import variations as variation_store
from sfumato.store.clock import utcnow
from sfumato.store.models import GeneratedImage, Generation, Job, RealtimeRequest, Variation


class GenerationSubject:
    """A generation: its images and COMPLETE on success; FAILED and refunded on failure.

    The job's generation is usually in the session already (the lease check reads it with
    the job), so ``session.get`` costs no query.
    """

    def complete(
        self,
        session: Session,
        job: Job,
        payload: object,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        if generation is None or generation.status != "PENDING":  # deleted or abandoned while it ran
            return False
        for artifact in artifacts:
            session.add(generated_image(generation.id, artifact))
        generation.status = "COMPLETE"
        generation.lineage = dict(lineage)
        generation.updated_at = utcnow()
        commits.announce(session, commits.GENERATIONS, generation.id)
        return True

    def fail(self, session: Session, job: Job, payload: object, reason: str) -> None:
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        if generation is None or generation.status != "PENDING":  # an abandoned one was refunded then
            return
        generation.status = "FAILED"
        generation.failure_reason = reason
        generation.updated_at = utcnow()
        credits.refund(session, account_id=job.account_id, subject_id=generation.id, note=reason)
        commits.announce(session, commits.GENERATIONS, generation.id)

    def webhook_target(self, session: Session, job: Job, payload: object) -> tuple[str | None, str | None]:
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        return (generation.api_key_id if generation else None), job.generation_id


def generated_image(generation_id: str, artifact: Artifact) -> GeneratedImage:
    """A generation's output as its image row: an image as it is; a video as its poster, with the
    video's blob and facts beside it."""
    picture = artifact.picture()
    assert picture.width is not None and picture.height is not None
    row = GeneratedImage(
        generation_id=generation_id,
        position=artifact.position,
        seed=artifact.seed if artifact.seed is not None else 0,
        blob_key=picture.blob_key,
        content_type=picture.content_type,
        width=picture.width,
        height=picture.height,
        sha256=picture.sha256,
        size_bytes=picture.size_bytes,
        media_type=artifact.type,
        nsfw=artifact.nsfw,
    )
    if artifact.type == VIDEO:
        row.video_blob_key = artifact.blob_key
        row.video_size_bytes = artifact.size_bytes
        row.video_sha256 = artifact.sha256
        row.duration_seconds = artifact.duration_seconds
        row.fps = artifact.fps
        row.frame_count = artifact.frame_count
    return row


class VariationRef(Protocol):
    """What a variation job's payload says of its row."""

    @property
    def variation_id(self) -> str: ...

    @property
    def api_key_id(self) -> str | None: ...


class RealtimeRef(Protocol):
    @property
    def request_id(self) -> str: ...


class VariationSubject:
    """A variation row: its picture on success; FAILED and refunded on failure."""

    def complete(
        self,
        session: Session,
        job: Job,
        payload: VariationRef,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        variation_id = payload.variation_id
        variation = session.get(Variation, variation_id, with_for_update=True)
        if variation is None:  # its image was deleted meanwhile: the work is wasted, not charged
            credits.refund(session, account_id=job.account_id, subject_id=variation_id, note="source deleted")
            return False
        [artifact] = artifacts
        # A motion variation (a video upscale) records its clip; others their picture.
        image = artifact if artifact.type == VIDEO else artifact.picture()
        assert image.width is not None and image.height is not None
        variation_store.complete(
            variation,
            key=image.blob_key,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            sha256=image.sha256,
            size_bytes=image.size_bytes,
            lineage=lineage,
        )
        variation.nsfw = artifact.nsfw
        return True

    def fail(self, session: Session, job: Job, payload: VariationRef, reason: str) -> None:
        variation_id = payload.variation_id
        variation = session.get(Variation, variation_id, with_for_update=True)
        if variation is not None:
            variation_store.fail(variation, reason)
        credits.refund(session, account_id=job.account_id, subject_id=variation_id, note=reason)

    def webhook_target(
        self, session: Session, job: Job, payload: VariationRef
    ) -> tuple[str | None, str | None]:
        return payload.api_key_id, payload.variation_id


class RealtimeSubject:
    """A realtime request: its output for the waiting caller, unless the caller gave up."""

    def complete(
        self,
        session: Session,
        job: Job,
        payload: RealtimeRef,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        request = session.get(RealtimeRequest, payload.request_id, with_for_update=True)
        if request is None or request.status != realtime_store.PENDING:
            return False  # abandoned (timed out, refunded): nobody reads this output
        # No artifact: the output went back to the waiter in memory (``jobs.hand_off``), not to a blob.
        key = artifacts[0].picture().blob_key if artifacts else None
        realtime_store.complete(session, request, key=key, lineage=lineage)
        return True

    def fail(self, session: Session, job: Job, payload: RealtimeRef, reason: str) -> None:
        request_id = payload.request_id
        request = session.get(RealtimeRequest, request_id, with_for_update=True)
        if request is not None and request.status == realtime_store.PENDING:
            realtime_store.finish(session, request, realtime_store.FAILED, reason)
            credits.refund(session, account_id=job.account_id, subject_id=request_id, note=reason)

    def webhook_target(
        self, session: Session, job: Job, payload: RealtimeRef
    ) -> tuple[str | None, str | None]:
        return None, payload.request_id  # the caller waits for the answer: no webhook
