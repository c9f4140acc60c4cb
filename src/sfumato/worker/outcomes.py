"""A job's end, recorded in one transaction: results, status, credits — or nothing.

Only the worker that still holds a job's lease may record its end; everyone else's
results are dropped. That is what makes execution at-least-once but effects
exactly-once.

Each attempt writes its outputs under keys of its own (they carry its lease number), so a
worker that lost its lease but runs on can never overwrite the pixels another attempt
recorded. Whatever an attempt wrote that no row will point to is deleted: by the attempt
itself when its result is dropped, by the recorded end for every other attempt.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.store import Database, credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import GeneratedImage, Generation, Job
from sfumato.worker.job_events import job_ended
from sfumato.worker.subjects import SUBJECTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredImage:
    position: int
    seed: int
    blob_key: str
    content_type: str
    width: int
    height: int
    sha256: str


@dataclass(frozen=True)
class Attempt:
    """One run of a job, as its runner sees it: ``target`` is the id its outputs are filed
    under (its generation's, else the job's own), ``lease`` the number of the lease it runs
    under, unique per job, so no two attempts ever write the same blob."""

    target: str
    lease: int


def attempt_of(job: queue.ClaimedJob) -> Attempt:
    return Attempt(target=job.generation_id or job.id, lease=job.lease)


def image_key(generation_id: str, position: int, lease: int) -> str:
    """Where an attempt (by its lease number) puts a generation's image at ``position``."""
    return f"generations/{generation_id}/lease-{lease}/{position}.png"


def output_keys(kind: str, attempt: Attempt, payload: dict[str, Any]) -> list[str]:
    """Every blob key the attempt's runner may write, whether or not it got that far."""
    subject = SUBJECTS.get(kind)
    if subject is not None:
        return subject.output_keys(payload, attempt.lease)
    positions = range(len(payload.get("seeds") or ()))  # one image per seed
    return [image_key(attempt.target, position, attempt.lease) for position in positions]


class Completion(enum.Enum):
    RECORDED = "recorded"
    LEASE_LOST = "lease_lost"  # another attempt owns the job now; this one's outputs are garbage
    DELETED = "deleted"  # what it worked for was deleted (or abandoned) meanwhile; outputs are garbage


class Subject(Protocol):
    """What a job works for when that is not a generation (``subjects.SUBJECTS``, by job kind).

    ``complete`` and ``fail`` run inside the transaction that holds the job's lease.
    """

    def complete(
        self, session: Session, job: Job, images: list[StoredImage], lineage: dict[str, object]
    ) -> bool:
        """Record the results; False when the subject is gone, so the outputs are garbage."""

    def fail(self, session: Session, job: Job, reason: str) -> None:
        """Record a failure for good and refund it."""

    def output_keys(self, payload: dict[str, Any], lease: int) -> list[str]:
        """Where the attempt under lease number ``lease`` puts its outputs."""


def complete(
    db: Database,
    *,
    job_id: str,
    worker_id: str,
    images: list[StoredImage],
    lineage: dict[str, object],
    lease: int | None = None,
    blobs: BlobStore | None = None,
) -> Completion:
    """Record a finished attempt, if this worker still holds the job's lease (number ``lease``).

    With ``blobs``, what no row will point to is deleted once the outcome is settled: this
    attempt's ``images`` unless they were recorded, and whatever other attempts left.
    """
    with db.transaction() as session:
        held = queue.lock_with_generation_if_held(session, job_id=job_id, worker_id=worker_id, lease=lease)
        if held is None:
            garbage = [image.blob_key for image in images]
            completion = Completion.LEASE_LOST
        else:
            job, generation = held
            completion = _record(session, job, generation, worker_id, images, lineage)
            if completion is Completion.RECORDED:
                kept = {image.blob_key for image in images}
                garbage = [key for key in _outputs(job, range(1, job.leases)) if key not in kept]
            else:
                garbage = _outputs(job, range(1, job.leases + 1)) + [image.blob_key for image in images]
    _remove_outputs(blobs, garbage)
    return completion


def _record(
    session: Session,
    job: Job,
    generation: Generation | None,
    worker_id: str,
    images: list[StoredImage],
    lineage: dict[str, object],
) -> Completion:
    """Record the results; ``generation`` is the job's, read with it (its images unloaded: the
    new ones are added as rows of their own, since loading the others first costs a query)."""
    subject = SUBJECTS.get(job.kind)
    if subject is not None:
        lineage = {**lineage, "attempts": job.attempts, "worker": worker_id}
        if not subject.complete(session, job, images, lineage):
            queue.finish(job, state=queue.CANCELLED, error="deleted or abandoned while running")
            return Completion.DELETED
        queue.finish(job, state=queue.SUCCEEDED)
        job_ended(session, job, succeeded=True)
        return Completion.RECORDED
    if generation is None:
        queue.finish(job, state=queue.CANCELLED, error="generation deleted while running")
        return Completion.DELETED
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
    generation.lineage = {**lineage, "attempts": job.attempts, "worker": worker_id}
    generation.updated_at = utcnow()
    queue.finish(job, state=queue.SUCCEEDED)
    job_ended(session, job, succeeded=True)
    return Completion.RECORDED


def fail(
    db: Database,
    *,
    job_id: str,
    worker_id: str,
    reason: str,
    retry: bool,
    lease: int | None = None,
    blobs: BlobStore | None = None,
) -> bool:
    """Record a failed attempt: requeue it while attempts remain and ``retry``, else fail and refund.

    With ``blobs``, whatever the failed attempt uploaded is deleted (a retry writes its own),
    and a job that fails for good loses what every attempt left, so no blob outlives the rows
    that could point to it. False when the lease is no longer this worker's: nothing recorded.
    """
    with db.transaction() as session:
        job = queue.lock_if_held(session, job_id=job_id, worker_id=worker_id, lease=lease)
        if job is None:
            row = session.get(Job, job_id) if lease is not None else None
            garbage = _outputs(row, [lease]) if row is not None and lease is not None else []
            failed = False
        elif retry and job.attempts < job.max_attempts:
            queue.requeue(job)
            job.error = reason
            garbage, failed = _outputs(job, [job.leases]), True
        else:
            _fail_for_good(session, job, reason)
            garbage, failed = _outputs(job, range(1, job.leases + 1)), True
    _remove_outputs(blobs, garbage)
    return failed


def reap_expired(db: Database, blobs: BlobStore | None = None) -> int:
    """Requeue jobs whose lease expired; fail (and refund) those out of attempts.

    A requeued attempt's uploads stay: its worker may still be running, and drops them itself
    when its completion is refused; the job's recorded end removes them otherwise.
    """
    garbage: list[str] = []
    with db.transaction() as session:
        jobs = queue.expired(session)
        for job in jobs:
            if job.attempts < job.max_attempts:
                queue.requeue(job, alone=True)
                job.error = f"lease of {job.lease_owner} expired; requeued"
            else:
                _fail_for_good(session, job, f"gave up after {job.attempts} attempts (lease expired)")
                garbage += _outputs(job, range(1, job.leases + 1))
    _remove_outputs(blobs, garbage)
    return len(jobs)


def discard(blobs: BlobStore, job: queue.ClaimedJob) -> None:
    """Delete whatever the attempt under ``job``'s lease uploaded: its result is being dropped."""
    _remove_outputs(blobs, output_keys(job.kind, attempt_of(job), job.payload))


def _fail_for_good(session: Session, job: Job, reason: str) -> None:
    """Fail the job and what it worked for, and refund it."""
    queue.finish(job, state=queue.FAILED, error=reason)
    subject = SUBJECTS.get(job.kind)
    if subject is not None:
        subject.fail(session, job, reason)
        job_ended(session, job, succeeded=False)
        return
    job_ended(session, job, succeeded=False)
    generation = session.get(Generation, job.generation_id) if job.generation_id else None
    if generation is None:
        return
    generation.status = "FAILED"
    generation.failure_reason = reason
    generation.updated_at = utcnow()
    credits.refund(session, account_id=job.account_id, generation_id=generation.id, note=reason)


def _outputs(job: Job, leases: Iterable[int]) -> list[str]:
    """The blob keys the job's attempts under ``leases`` may have written."""
    target = job.generation_id or job.id
    return [key for n in leases for key in output_keys(job.kind, Attempt(target, n), job.payload)]


def _remove_outputs(blobs: BlobStore | None, keys: list[str]) -> None:
    """Best effort: a blob that cannot be deleted now is logged and left, never an error."""
    if blobs is None:
        return
    for key in dict.fromkeys(keys):
        try:
            blobs.delete(key)
        except Exception:
            log.warning("could not delete blob %s; it is left behind", key, exc_info=True)
