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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from sfumato.blobs import BlobStore
from sfumato.jobs.artifacts import Artifact, Attempt, image_key
from sfumato.jobs.registry import kind_of
from sfumato.store import Database, queue
from sfumato.store.models import Job
from sfumato.worker import job_events, screening

__all__ = [
    "Artifact",
    "Attempt",
    "Completion",
    "Finished",
    "complete",
    "complete_all",
    "discard",
    "fail",
    "image_key",
    "reap_expired",
]

log = logging.getLogger(__name__)


def attempt_of(job: queue.ClaimedJob) -> Attempt:
    return Attempt(target=job.generation_id or job.id, lease=job.lease)


class Completion(enum.Enum):
    RECORDED = "recorded"
    LEASE_LOST = "lease_lost"  # another attempt owns the job now; this one's outputs are garbage
    DELETED = "deleted"  # what it worked for was deleted (or abandoned) meanwhile; outputs are garbage


@dataclass(frozen=True)
class Finished:
    """An attempt that ended with results, to be recorded: the job, the lease it ran under,
    what it wrote and its lineage."""

    job_id: str
    lease: int | None
    artifacts: list[Artifact]
    lineage: dict[str, object]


def complete(
    db: Database,
    *,
    job_id: str,
    worker_id: str,
    artifacts: list[Artifact],
    lineage: dict[str, object],
    lease: int | None = None,
    blobs: BlobStore | None = None,
) -> Completion:
    """Record a finished attempt, if this worker still holds the job's lease (number ``lease``).

    With ``blobs``, what no row will point to is deleted once the outcome is settled: this
    attempt's ``artifacts`` unless they were recorded, and whatever other attempts left.
    """
    [completion] = complete_all(
        db, [Finished(job_id, lease, artifacts, lineage)], worker_id=worker_id, blobs=blobs
    )
    return completion


def complete_all(
    db: Database, finished: Sequence[Finished], *, worker_id: str, blobs: BlobStore | None = None
) -> list[Completion]:
    """Record several finished attempts (a batch's) in one transaction, each as :func:`complete`
    records one: a batch pays for one commit, not one a job. If the transaction fails, none
    is recorded."""
    garbage: list[str] = []
    with db.transaction() as session:
        ended = job_events.ends_of(session)
        completions = [_complete_in(session, attempt, worker_id, garbage) for attempt in finished]
    job_events.tell(ended)
    _remove_outputs(blobs, garbage)
    return completions


def _complete_in(session: Session, finished: Finished, worker_id: str, garbage: list[str]) -> Completion:
    """Record one attempt's end in ``session``; what no row will point to joins ``garbage``."""
    held = queue.lock_with_generation_if_held(
        session, job_id=finished.job_id, worker_id=worker_id, lease=finished.lease
    )
    if held is None:
        garbage += _blob_keys(finished.artifacts)
        return Completion.LEASE_LOST
    job, _generation = held  # read with the job: its subject finds it in the session
    completion = _record(session, job, worker_id, finished.artifacts, finished.lineage)
    if completion is Completion.RECORDED:
        kept = set(_blob_keys(finished.artifacts))
        garbage += [key for key in _outputs(job, range(1, job.leases)) if key not in kept]
    else:
        garbage += _outputs(job, range(1, job.leases + 1)) + _blob_keys(finished.artifacts)
    return completion


def _record(
    session: Session, job: Job, worker_id: str, artifacts: list[Artifact], lineage: dict[str, object]
) -> Completion:
    """Record the results with the job's subject (a generation, a variation …)."""
    kind = kind_of(job.kind)
    if kind is None:  # claims take only kinds this worker knows; a stale row is cancelled, not run
        queue.finish(job, state=queue.CANCELLED, error=f"unknown job kind {job.kind!r}")
        return Completion.DELETED
    payload = kind.decode(job.payload)
    lineage = {**lineage, "attempts": job.attempts, "worker": worker_id}
    if not kind.subject.complete(session, job, payload, artifacts, lineage):
        queue.finish(job, state=queue.CANCELLED, error="deleted or abandoned while running")
        return Completion.DELETED
    queue.finish(job, state=queue.SUCCEEDED)
    screening.settle(session, job, lineage)
    job_events.job_ended(session, job, kind, payload, succeeded=True)
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
        ended = job_events.ends_of(session)
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
    job_events.tell(ended)
    _remove_outputs(blobs, garbage)
    return failed


def reap_expired(db: Database, blobs: BlobStore | None = None) -> int:
    """Requeue jobs whose lease expired; fail (and refund) those out of attempts.

    A requeued attempt's uploads stay: its worker may still be running, and drops them itself
    when its completion is refused; the job's recorded end removes them otherwise.
    """
    garbage: list[str] = []
    with db.transaction() as session:
        ended = job_events.ends_of(session)
        jobs = queue.expired(session)
        for job in jobs:
            if job.attempts < job.max_attempts:
                queue.requeue(job, alone=True)
                job.error = f"lease of {job.lease_owner} expired; requeued"
            else:
                _fail_for_good(session, job, f"gave up after {job.attempts} attempts (lease expired)")
                garbage += _outputs(job, range(1, job.leases + 1))
    job_events.tell(ended)
    _remove_outputs(blobs, garbage)
    return len(jobs)


def discard(blobs: BlobStore, job: queue.ClaimedJob) -> None:
    """Delete whatever the attempt under ``job``'s lease uploaded: its result is being dropped."""
    kind = kind_of(job.kind)
    if kind is not None:
        _remove_outputs(blobs, kind.outputs(attempt_of(job), job.payload))


def _fail_for_good(session: Session, job: Job, reason: str) -> None:
    """Fail the job and what it worked for, and refund it."""
    queue.finish(job, state=queue.FAILED, error=reason)
    kind = kind_of(job.kind)
    if kind is None:
        log.error("job %s of unknown kind %r failed: %s", job.id, job.kind, reason)
        return
    try:
        payload = kind.decode(job.payload)
    except Exception:
        log.exception("job %s failed and its payload does not decode; its subject is not told", job.id)
        return
    kind.subject.fail(session, job, payload, reason)
    job_events.job_ended(session, job, kind, payload, succeeded=False)


def _outputs(job: Job, leases: Iterable[int]) -> list[str]:
    """The blob keys the job's attempts under ``leases`` may have written."""
    kind = kind_of(job.kind)
    if kind is None:
        return []
    target = job.generation_id or job.id
    return [key for n in leases for key in kind.outputs(Attempt(target, n), job.payload)]


def _blob_keys(artifacts: list[Artifact]) -> list[str]:
    """Every blob the attempt's records point to (a video's poster too)."""
    return [key for artifact in artifacts for key in artifact.blob_keys]


def _remove_outputs(blobs: BlobStore | None, keys: list[str]) -> None:
    """Best effort: a blob that cannot be deleted now is logged and left, never an error."""
    if blobs is None:
        return
    for key in dict.fromkeys(keys):
        try:
            blobs.delete(key)
        except Exception:
            log.warning("could not delete blob %s; it is left behind", key, exc_info=True)
