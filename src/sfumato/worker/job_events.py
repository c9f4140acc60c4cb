"""What else happens when a job ends for good: its webhook event, its metrics and its log line.

``outcomes`` calls :func:`job_ended` inside the transaction that records the end, so
the webhook outbox row commits together with the job's terminal state.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from sfumato.jobs.kind import JobKind
from sfumato.observability.metrics import record_job_end
from sfumato.store.clock import utcnow
from sfumato.store.models import Job
from sfumato.webhooks import outbox

log = logging.getLogger("sfumato.jobs")


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
    model = job.model_key or "none"
    outcome = "succeeded" if succeeded else "failed"
    record_job_end(job.kind, model, outcome, seconds)
    log.info(
        "job %s %s",
        job.id,
        outcome,
        extra={
            "job_id": job.id,
            "kind": job.kind,
            "model": model,
            "outcome": outcome,
            "seconds": round(seconds, 4) if seconds is not None else None,
            "account_id": job.account_id,
            "generation_id": job.generation_id,
        },
    )
