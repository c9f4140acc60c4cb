"""What else happens when a job ends for good: its webhook event, its metrics and its log line.

``outcomes`` calls :func:`job_ended` inside the transaction that records the end, so
the webhook outbox row commits together with the job's terminal state. The metrics and
the log line wait for that commit (:func:`ends_of`, :func:`tell`): a transaction that
rolls back (a batch then recorded job by job) must not count its jobs twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from sfumato.jobs.kind import JobKind
from sfumato.observability.metrics import record_job_end
from sfumato.store.clock import utcnow
from sfumato.store.models import Job
from sfumato.webhooks import outbox

log = logging.getLogger("sfumato.jobs")

_ENDED = "sfumato.ended_jobs"  # where a transaction keeps the ends it recorded


@dataclass(frozen=True)
class JobEnd:
    """What is told of an ended job once its end committed."""

    job_id: str
    kind: str
    model: str
    outcome: str
    seconds: float | None
    account_id: str
    generation_id: str | None


def job_ended(session: Session, job: Job, kind: JobKind[Any], payload: object, *, succeeded: bool) -> None:
    if kind.event is not None:
        api_key_id, subject_id = kind.subject.webhook_target(session, job, payload)
        if api_key_id:
            outbox.job_finished(
                session,
                job,
                event=kind.event,
                succeeded=succeeded,
                api_key_id=api_key_id,
                subject_id=subject_id,
            )
    seconds = (utcnow() - job.started_at).total_seconds() if job.started_at else None
    ends_of(session).append(
        JobEnd(
            job_id=job.id,
            kind=job.kind,
            model=job.model_key or "none",
            outcome="succeeded" if succeeded else "failed",
            seconds=seconds,
            account_id=job.account_id,
            generation_id=job.generation_id,
        )
    )


def ends_of(session: Session) -> list[JobEnd]:
    """The ends :func:`job_ended` records in ``session``'s transaction, as it records them:
    for :func:`tell` once that transaction committed."""
    ended: list[JobEnd] = session.info.setdefault(_ENDED, [])
    return ended


def tell(ended: list[JobEnd]) -> None:
    """Count and log ``ended`` jobs, whose ends committed."""
    for end in ended:
        record_job_end(end.kind, end.model, end.outcome, end.seconds)
        log.info(
            "job %s %s",
            end.job_id,
            end.outcome,
            extra={
                "job_id": end.job_id,
                "kind": end.kind,
                "model": end.model,
                "outcome": end.outcome,
                "seconds": round(end.seconds, 4) if end.seconds is not None else None,
                "account_id": end.account_id,
                "generation_id": end.generation_id,
            },
        )
