"""Where jobs record their end: a generation, a variation, a realtime request.

Each runs inside the transaction that holds the job's lease, so the subject's new state,
the refund of a failure and the job's own state commit together or not at all.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from sfumato.jobs.artifacts import StoredImage
from sfumato.store import credits
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
        images: list[StoredImage],
        lineage: dict[str, object],
    ) -> bool:
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        if generation is None:  # deleted while it ran
            return False
        for image in images:
            session.add(
                GeneratedImage(
                    generation_id=generation.id,
                    position=image.position,
                    seed=image.seed,
                    blob_key=image.blob_key,
                    content_type=image.content_type,
                    width=image.width,
                    height=image.height,
                    sha256=image.sha256,
                )
            )
        generation.status = "COMPLETE"
        generation.lineage = dict(lineage)
        generation.updated_at = utcnow()
        return True

    def fail(self, session: Session, job: Job, payload: object, reason: str) -> None:
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        if generation is None:
            return
        generation.status = "FAILED"
        generation.failure_reason = reason
        generation.updated_at = utcnow()
        credits.refund(session, account_id=job.account_id, subject_id=generation.id, note=reason)

    def webhook_target(self, session: Session, job: Job, payload: object) -> tuple[str | None, str | None]:
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        return (generation.api_key_id if generation else None), job.generation_id


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
        images: list[StoredImage],
        lineage: dict[str, object],
    ) -> bool:
        variation_id = payload.variation_id
        variation = session.get(Variation, variation_id, with_for_update=True)
        if variation is None:  # its image was deleted meanwhile: the work is wasted, not charged
            credits.refund(session, account_id=job.account_id, subject_id=variation_id, note="source deleted")
            return False
        [image] = images
        variation_store.complete(
            variation,
            key=image.blob_key,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            sha256=image.sha256,
            lineage=lineage,
        )
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
        images: list[StoredImage],
        lineage: dict[str, object],
    ) -> bool:
        request = session.get(RealtimeRequest, payload.request_id, with_for_update=True)
        if request is None or request.status != realtime_store.PENDING:
            return False  # abandoned (timed out, refunded): nobody reads this output
        # No image: the output went back to the waiter in memory (``jobs.hand_off``), not to a blob.
        key = images[0].blob_key if images else None
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
