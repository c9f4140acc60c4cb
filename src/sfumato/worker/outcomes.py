"""A job's end, recorded in one transaction: results, status, credits — or nothing.

Only the worker that still holds a job's lease may record its end; everyone else's
results are dropped. That is what makes execution at-least-once but effects
exactly-once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.store import Database, credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import GeneratedImage, Generation, Job
from sfumato.worker.job_events import job_ended
from sfumato.worker.subjects import SUBJECTS


@dataclass(frozen=True)
class StoredImage:
    position: int
    seed: int
    blob_key: str
    content_type: str
    width: int
    height: int
    sha256: str


def image_key(generation_id: str, position: int) -> str:
    """Where a generation's image lives: one key per position, the same for every attempt.

    A retried run overwrites its predecessor's upload instead of leaving an orphan beside
    it, and a generation that fails for good knows which keys to clean up.
    """
    return f"generations/{generation_id}/{position}.png"


class Completion(enum.Enum):
    RECORDED = "recorded"
    LEASE_LOST = "lease_lost"  # another worker owns the job now; its run writes the same blobs
    DELETED = "deleted"  # what it worked for was deleted (or abandoned) meanwhile; outputs are garbage


class Subject(Protocol):
    """What a job works for when that is not a generation (``subjects.SUBJECTS``, by job kind).

    Both methods run inside the transaction that holds the job's lease.
    """

    def complete(
        self, session: Session, job: Job, images: list[StoredImage], lineage: dict[str, object]
    ) -> bool:
        """Record the results; False when the subject is gone, so the outputs are garbage."""

    def fail(self, session: Session, job: Job, reason: str) -> list[str]:
        """Record a failure for good and refund it; the blob keys its attempts may have left."""


def complete(
    db: Database, *, job_id: str, worker_id: str, images: list[StoredImage], lineage: dict[str, object]
) -> Completion:
    """Record a finished generation, if this worker still holds the job's lease."""
    with db.transaction() as session:
        job = queue.lock_if_held(session, job_id=job_id, worker_id=worker_id)
        if job is None:
            return Completion.LEASE_LOST
        subject = SUBJECTS.get(job.kind)
        if subject is not None:
            lineage = {**lineage, "attempts": job.attempts, "worker": worker_id}
            if not subject.complete(session, job, images, lineage):
                queue.finish(job, state=queue.CANCELLED, error="deleted or abandoned while running")
                return Completion.DELETED
            queue.finish(job, state=queue.SUCCEEDED)
            job_ended(session, job, succeeded=True)
            return Completion.RECORDED
        generation = session.get(Generation, job.generation_id) if job.generation_id else None
        if generation is None:
            queue.finish(job, state=queue.CANCELLED, error="generation deleted while running")
            return Completion.DELETED
        for image in images:
            generation.images.append(
                GeneratedImage(
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
        generation.lineage = {**lineage, "attempts": job.attempts, "worker": worker_id}
        generation.updated_at = utcnow()
        queue.finish(job, state=queue.SUCCEEDED)
        job_ended(session, job, succeeded=True)
        return Completion.RECORDED


def fail(
    db: Database, *, job_id: str, worker_id: str, reason: str, retry: bool, blobs: BlobStore | None = None
) -> bool:
    """Record a failed attempt: requeue it while attempts remain and ``retry``, else fail and refund.

    With ``blobs``, a generation that fails for good loses whatever images earlier
    attempts uploaded, so nothing is left behind that no row points to.
    """
    with db.transaction() as session:
        job = queue.lock_if_held(session, job_id=job_id, worker_id=worker_id)
        if job is None:
            return False
        failed: list[str] = []
        if retry and job.attempts < job.max_attempts:
            queue.requeue(job)
            job.error = reason
        else:
            failed = _fail_for_good(session, job, reason)
    _remove_outputs(blobs, failed)
    return True


def reap_expired(db: Database, blobs: BlobStore | None = None) -> int:
    """Requeue jobs whose lease expired; fail (and refund) those out of attempts."""
    failed: list[str] = []
    with db.transaction() as session:
        jobs = queue.expired(session)
        for job in jobs:
            if job.attempts < job.max_attempts:
                queue.requeue(job)
                job.error = f"lease of {job.lease_owner} expired; requeued"
            else:
                reason = f"gave up after {job.attempts} attempts (lease expired)"
                failed += _fail_for_good(session, job, reason)
    _remove_outputs(blobs, failed)
    return len(jobs)


def _fail_for_good(session: Session, job: Job, reason: str) -> list[str]:
    """Fail the job and what it worked for, and refund it; the blob keys its attempts may have left."""
    queue.finish(job, state=queue.FAILED, error=reason)
    subject = SUBJECTS.get(job.kind)
    if subject is not None:
        leftovers = subject.fail(session, job, reason)
        job_ended(session, job, succeeded=False)
        return leftovers
    job_ended(session, job, succeeded=False)
    generation = session.get(Generation, job.generation_id) if job.generation_id else None
    if generation is None:
        return []
    generation.status = "FAILED"
    generation.failure_reason = reason
    generation.updated_at = utcnow()
    credits.refund(session, account_id=job.account_id, generation_id=generation.id, note=reason)
    return [image_key(generation.id, position) for position in range(generation.num_images)]


def _remove_outputs(blobs: BlobStore | None, keys: list[str]) -> None:
    if blobs is None:
        return
    for key in keys:
        blobs.delete(key)
