"""Realtime canvas requests: written with their job, watched by the waiting API server.

The waiter reads the row, which works whichever process the worker runs in. :func:`complete`
and :func:`finish` also signal the request's end once their transaction commits (the
``realtime`` commit signal, keyed by the request's id), so the waiter need not poll; the row
stays the only truth.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from sfumato.store import commits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Job, RealtimeRequest

PENDING, COMPLETE, FAILED, ABANDONED = "PENDING", "COMPLETE", "FAILED", "ABANDONED"


def input_key(request_id: str, role: str) -> str:
    """Where a request's input picture (``role``: "image" or "mask") is kept while it runs."""
    return f"realtime/{request_id}/{role}.png"


def output_key(request_id: str, lease: int) -> str:
    """Where the attempt under lease number ``lease`` puts the request's output (each its own)."""
    return f"realtime/{request_id}/lease-{lease}/output.png"


def get(session: Session, request_id: str) -> RealtimeRequest | None:
    return session.get(RealtimeRequest, request_id)


def get_for_update(session: Session, request_id: str) -> RealtimeRequest | None:
    return session.get(RealtimeRequest, request_id, with_for_update=True)


def complete(
    session: Session, request: RealtimeRequest, *, key: str | None, lineage: dict[str, object]
) -> None:
    """Record the request's output: under blob ``key``, or (None) handed to its waiter in memory."""
    request.status = COMPLETE
    request.output_key = key
    request.lineage = dict(lineage)
    request.finished_at = utcnow()
    commits.announce(session, commits.REALTIME, request.id)


def finish(session: Session, request: RealtimeRequest, status: str, reason: str) -> None:
    """End a request without an output: FAILED (the job failed) or ABANDONED (its caller left)."""
    request.status = status
    request.failure_reason = reason
    request.finished_at = utcnow()
    commits.announce(session, commits.REALTIME, request.id)


def cancel_if_queued(session: Session, job_id: str, reason: str) -> bool:
    """Cancel a request's job if no worker has taken it yet (a taken one runs to its end)."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.state != queue.QUEUED:
        return False
    queue.finish(job, state=queue.CANCELLED, error=reason)
    return True
