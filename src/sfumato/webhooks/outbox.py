"""Writes a webhook event in the same transaction that records a job's end.

Either the job's terminal state and its event both commit, or neither does: a crash
cannot complete a job without its event, nor send an event for a job that did not end.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from sfumato.store import webhooks as store
from sfumato.store.models import Generation, Job

REALTIME_LANE = 0  # realtime jobs answer their caller synchronously; they send no webhook

# Event names by job kind. A job of an unlisted kind is an ``image_generation`` when it
# belongs to a generation, and otherwise takes its kind's name (``<kind>.complete``).
EVENT_NAMES: dict[str, str] = {}

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


def job_finished(session: Session, job: Job, *, succeeded: bool) -> None:
    """Queue ``<event>.complete`` or ``<event>.failed`` for the job's key, if that key has a receiver."""
    if job.lane == REALTIME_LANE:
        return
    generation = session.get(Generation, job.generation_id) if job.generation_id else None
    key_id = (job.payload or {}).get("api_key_id") or (generation.api_key_id if generation else None)
    if not key_id:
        return
    key = store.key_of(session, str(key_id))
    if key is None or not key.webhook_url or key.webhook_disabled_at is not None:
        return
    name = EVENT_NAMES.get(job.kind) or ("image_generation" if generation is not None else job.kind)
    store.add(
        session,
        key=key,
        event_type=f"{name}.{'complete' if succeeded else 'failed'}",
        job_id=job.id,
        job_kind=job.kind,
        # A job that works for something other than a generation (a variation) names it.
        subject_id=job.generation_id or (job.payload or {}).get("subject_id"),
    )
    if _local_senders:
        event.listen(session, "after_commit", _wake_local_senders, once=True)
