"""Writes a webhook event in the same transaction that records a job's end.

Either the job's terminal state and its event both commit, or neither does: a crash
cannot complete a job without its event, nor send an event for a job that did not end.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event as event_api
from sqlalchemy.orm import Session

from sfumato.store import webhooks as store
from sfumato.store.models import Job

# Senders running in this process: told as soon as an event commits, instead of finding
# it at their next poll (a sender in another process still finds it by polling).
_local_senders: list[Callable[[], None]] = []


def on_commit_wake(wake: Callable[[], None]) -> None:
    _local_senders.append(wake)


def forget_wake(wake: Callable[[], None]) -> None:
    if wake in _local_senders:
        _local_senders.remove(wake)


def _wake_local_senders(_session: Session) -> None:
    for wake in list(_local_senders):
        wake()


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
    if _local_senders:
        event_api.listen(session, "after_commit", _wake_local_senders, once=True)
