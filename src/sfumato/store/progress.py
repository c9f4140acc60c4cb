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

from sqlalchemy import and_, bindparam, case, func, select, update
from sqlalchemy.orm import Session, aliased

from sfumato.store import commits
from sfumato.store.clock import utcnow
from sfumato.store.models import Job
from sfumato.store.queue import QUEUED, RUNNING


@dataclass(frozen=True)
class Progress:
    """Where a running attempt is: ``stage``, and ``step`` of ``total`` (0 of 0: no steps)."""

    stage: str
    step: int = 0
    total: int = 0
    loss: float | None = None  # a training's loss at ``step``
    previews: tuple[str, ...] = ()  # blob keys of the attempt's preview pictures, in order

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "stage": self.stage,
            "step": self.step,
            "total": self.total,
            "updated_at": utcnow().isoformat(timespec="milliseconds"),
        }
        if self.loss is not None:
            row["loss"] = self.loss
        if self.previews:
            row["previews"] = list(self.previews)
        return row


@dataclass(frozen=True)
class Standing:
    """A job that is not done yet: its queue position while queued, its progress while running."""

    state: str
    queue_position: int | None = None
    progress: Progress | None = None


def record(
    session: Session,
    *,
    worker_id: str,
    reports: Mapping[tuple[str, int], Progress],
    signal: bool = False,
) -> int:
    """Write each ``(job id, lease number)``'s progress if that lease is still ``worker_id``'s;
    the number of rows written. With ``signal``, the ``generations`` commit signal tells the
    waiters of each written job's generation to look again (a new preview is there)."""
    written = 0
    for (job_id, lease), progress in reports.items():
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == RUNNING, Job.lease_owner == worker_id, Job.leases == lease)
            .values(progress=progress.as_row())
        )
        count = int(result.rowcount)  # type: ignore[attr-defined]
        written += count
        generation_id = session.scalar(select(Job.generation_id).where(Job.id == job_id)) if signal else None
        if count and generation_id is not None:
            commits.announce(session, commits.GENERATIONS, generation_id)
    return written


def previews_of_generation(session: Session, generation_id: str) -> list[str]:
    """The preview pictures' blob keys of a generation's newest attempt, whether it still runs
    or has ended (its progress stays on its row until another attempt starts)."""
    row = session.execute(
        select(Job.progress)
        .where(Job.generation_id == generation_id)
        .order_by(Job.created_at.desc())
        .limit(1)
    ).scalar()
    progress = _progress(row)
    return list(progress.previews) if progress is not None else []


def of_generation(session: Session, generation_id: str) -> Standing | None:
    """The standing of a generation's newest job; None when it has none or it is done."""
    return _standing(session, _NEWEST_OF_GENERATION, generation_id)


def of_subject(session: Session, subject_id: str) -> Standing | None:
    """The standing of the newest job working for ``subject_id`` (a variation …)."""
    return _standing(session, _NEWEST_OF_SUBJECT, subject_id)


def _standing(session: Session, newest: Any, of: str) -> Standing | None:
    """One indexed query: the job's state and progress, and its place in line only if queued."""
    job = session.execute(newest, {"of": of}).first()
    if job is None:
        return None
    if job.state == QUEUED:
        return Standing(state=QUEUED, queue_position=int(job.ahead or 0) + 1)
    if job.state == RUNNING:
        return Standing(state=RUNNING, progress=_progress(job.progress))
    return None


def queue_position(session: Session, job: Job) -> int:
    """1 + the queued jobs ahead of ``job`` by lane, then age (see the module's docstring)."""
    count = session.scalar(_AHEAD, {"lane": job.lane, "created": job.created_at, "id": job.id})
    return int(count or 0) + 1


# Statements built once: a GET of a pending resource runs one, and building it costs more
# than running it. Each count is a range of the claim index (state, lane, age); the CASE
# counts only for a queued job.
_ahead = aliased(Job, name="ahead")


def _count_ahead(lane: Any, created_at: Any, job_id: Any) -> Any:
    ranges = (
        _ahead.lane < lane,  # a more urgent lane
        and_(_ahead.lane == lane, _ahead.created_at < created_at),  # older in the same lane
        and_(_ahead.lane == lane, _ahead.created_at == created_at, _ahead.id < job_id),  # as old, first by id
    )
    counts = [select(func.count()).where(_ahead.state == QUEUED, r).scalar_subquery() for r in ranges]
    return counts[0] + counts[1] + counts[2]


def _newest_job(column: Any) -> Any:
    ahead = case((Job.state == QUEUED, _count_ahead(Job.lane, Job.created_at, Job.id)), else_=None)
    return (
        select(Job.state, Job.progress, ahead.label("ahead"))
        .where(column == bindparam("of"))
        .order_by(Job.created_at.desc())
        .limit(1)
    )


_NEWEST_OF_GENERATION = _newest_job(Job.generation_id)
_NEWEST_OF_SUBJECT = _newest_job(Job.subject_id)
_AHEAD = select(
    _count_ahead(
        bindparam("lane", type_=Job.lane.type),
        bindparam("created", type_=Job.created_at.type),
        bindparam("id", type_=Job.id.type),
    )
)


def _progress(row: dict[str, Any] | None) -> Progress | None:
    if not row or "stage" not in row:
        return None
    loss = row.get("loss")
    return Progress(
        stage=str(row["stage"]),
        step=int(row.get("step", 0)),
        total=int(row.get("total", 0)),
        loss=float(loss) if loss is not None else None,
        previews=tuple(str(key) for key in row.get("previews", ())),
    )
