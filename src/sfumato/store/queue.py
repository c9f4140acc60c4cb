"""The job queue: enqueue, claim with a lease, heartbeat, complete, fail, requeue.

Every operation is one short, named function over SQL. Claims lock candidate rows
with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so concurrent workers never
take the same job; on SQLite the claim runs in an IMMEDIATE transaction, which
serialises writers and gives the same guarantee. Completion and failure are accepted
only from the current lease holder: a worker whose lease expired and was re-issued
cannot overwrite the new holder's result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import Job

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
)


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    kind: str
    account_id: str
    generation_id: str | None
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    lease_owner: str


def enqueue(
    session: Session,
    *,
    kind: str,
    account_id: str,
    payload: dict[str, Any],
    generation_id: str | None = None,
    lane: int = 1,
    max_attempts: int = 3,
) -> Job:
    """Add a job inside the caller's transaction, so it exists iff the caller's rows do."""
    job = Job(
        kind=kind,
        account_id=account_id,
        generation_id=generation_id,
        payload=payload,
        lane=lane,
        max_attempts=max_attempts,
        state=QUEUED,
    )
    session.add(job)
    return job


def claim(session: Session, *, worker_id: str, lease_seconds: float, limit: int = 1) -> list[ClaimedJob]:
    """Take up to ``limit`` queued jobs, most urgent lane first, oldest first within a lane."""
    now = utcnow()
    candidates = (
        select(Job)
        .where(Job.state == QUEUED)
        .order_by(Job.lane, Job.created_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = []
    for job in session.scalars(candidates).all():
        job.state = RUNNING
        job.lease_owner = worker_id
        job.lease_expires_at = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        job.started_at = now
        claimed.append(
            ClaimedJob(
                id=job.id,
                kind=job.kind,
                account_id=job.account_id,
                generation_id=job.generation_id,
                payload=dict(job.payload),
                attempts=job.attempts,
                max_attempts=job.max_attempts,
                lease_owner=worker_id,
            )
        )
    session.flush()
    return claimed


def heartbeat(session: Session, *, job_id: str, worker_id: str, lease_seconds: float) -> bool:
    """Extend a lease; False means the lease is no longer ours and the work must be dropped."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.state == RUNNING, Job.lease_owner == worker_id)
        .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def lock_if_held(session: Session, *, job_id: str, worker_id: str) -> Job | None:
    """The job row, locked, if ``worker_id`` still holds its lease; else None."""
    return session.scalars(
        select(Job)
        .where(Job.id == job_id, Job.state == RUNNING, Job.lease_owner == worker_id)
        .with_for_update()
    ).first()


def finish(job: Job, *, state: str, error: str | None = None) -> None:
    job.state = state
    job.error = error
    job.lease_owner = None
    job.lease_expires_at = None
    job.finished_at = utcnow()


def expired(session: Session, *, limit: int = 100) -> list[Job]:
    """Running jobs whose lease ran out (their worker died or hung), locked for handling."""
    return list(
        session.scalars(
            select(Job)
            .where(Job.state == RUNNING, Job.lease_expires_at < utcnow())
            .order_by(Job.lease_expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def requeue(job: Job) -> None:
    job.state = QUEUED
    job.lease_owner = None
    job.lease_expires_at = None


def depth(session: Session) -> dict[int, int]:
    """Queued jobs per lane."""
    from sqlalchemy import func

    rows = session.execute(select(Job.lane, func.count()).where(Job.state == QUEUED).group_by(Job.lane)).all()
    return {int(lane): int(count) for lane, count in rows}


def jobs_for_generation(session: Session, generation_id: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.generation_id == generation_id).with_for_update()))
