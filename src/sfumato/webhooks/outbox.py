"""Writes a webhook event in the same transaction that records a job's end.

Either the job's terminal state and its event both commit, or neither does: a crash
cannot complete a job without its event, nor send an event for a job that did not end.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sfumato.store import commits
from sfumato.store import webhooks as store
from sfumato.store.models import Job


def job_finished(
    session: Session, job: Job, *, event: str, succeeded: bool, api_key_id: str, subject_id: str | None
) -> None:
    """Queue ``<event>.complete`` or ``<event>.failed`` for the key, if that key has a receiver.

    ``subject_id`` is what the event is about: the generation, the variation …
    """
    key = store.key_of(session, api_key_id)
    if key is None or not key.webhook_url or key.webhook_disabled_at is not None:
        return
    store.add(
        session,
        key=key,
        event_type=f"{event}.{'complete' if succeeded else 'failed'}",
        job_id=job.id,
        job_kind=job.kind,
        subject_id=subject_id,
    )
    commits.announce(session, commits.WEBHOOKS)  # senders look at once, not at their next poll
