"""A job's standing while it is not done: its place in the queue, or how far its run got.

The worker's progress writer records the running attempt's latest stage and step here,
guarded like every other write of a running job: only the current lease holder (by worker
and lease number) can write, so a worker that lost its lease never overwrites the new
holder's progress, and nothing is written once the job has ended.

The queue position is the number of queued jobs claimed before this one in the order
lanes and age give (every job of a more urgent lane, then the older jobs of its own
lane), plus one: 1 means next. It is counted on the claim index, so a GET pays one
index range count. It is approximate: fairness across accounts, concurrency caps and
model affinity (see ``store.queue``) can move another account's newer job ahead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import Job
from sfumato.store.queue import QUEUED, RUNNING


@dataclass(frozen=True)
class Progress:
    """Where a running attempt is: ``stage``, and ``step`` of ``total`` (0 of 0: no steps)."""

    stage: str
    step: int = 0
    total: int = 0

    def as_row(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "step": self.step,
            "total": self.total,
            "updated_at": utcnow().isoformat(timespec="milliseconds"),
        }


@dataclass(frozen=True)
class Standing:
    """A job that is not done yet: its queue position while queued, its progress while running."""

    state: str
    queue_position: int | None = None
    progress: Progress | None = None


def record(session: Session, *, worker_id: str, reports: Mapping[tuple[str, int], Progress]) -> int:
    """Write each ``(job id, lease number)``'s progress if that lease is still ``worker_id``'s;
    the number of rows written."""
    written = 0
    for (job_id, lease), progress in reports.items():
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == RUNNING, Job.lease_owner == worker_id, Job.leases == lease)
            .values(progress=progress.as_row())
        )
        written += int(result.rowcount)  # type: ignore[attr-defined]
    return written


def of_generation(session: Session, generation_id: str) -> Standing | None:
    """The standing of a generation's newest job; None when it has none or it is done."""
    return _standing(session, Job.generation_id == generation_id)


def of_subject(session: Session, subject_id: str) -> Standing | None:
    """The standing of the newest job working for ``subject_id`` (a variation …)."""
    return _standing(session, Job.subject_id == subject_id)


def _standing(session: Session, of: Any) -> Standing | None:
    """One indexed look at the job's few columns; a queued one's position costs one count more."""
    job = session.execute(
        select(Job.id, Job.state, Job.lane, Job.created_at, Job.progress)
        .where(of)
        .order_by(Job.created_at.desc())
        .limit(1)
    ).first()
    if job is None:
        return None
    if job.state == QUEUED:
        return Standing(state=QUEUED, queue_position=_position(session, job.lane, job.created_at, job.id))
    if job.state == RUNNING:
        return Standing(state=RUNNING, progress=_progress(job.progress))
    return None


def queue_position(session: Session, job: Job) -> int:
    """1 + the queued jobs ahead of ``job`` by lane, then age (see the module's docstring)."""
    return _position(session, job.lane, job.created_at, job.id)


def _position(session: Session, lane: int, created_at: Any, job_id: str) -> int:
    ahead = and_(
        Job.lane == lane,
        or_(Job.created_at < created_at, and_(Job.created_at == created_at, Job.id < job_id)),
    )
    count = session.scalar(select(func.count()).where(Job.state == QUEUED, or_(Job.lane < lane, ahead)))
    return int(count or 0) + 1


def _progress(row: dict[str, Any] | None) -> Progress | None:
    if not row or "stage" not in row:
        return None
    return Progress(stage=str(row["stage"]), step=int(row.get("step", 0)), total=int(row.get("total", 0)))
