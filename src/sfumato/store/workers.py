"""Worker advertisements: each live worker's row says what it can run and what it holds.

Claims do not read these rows (a worker passes its own capabilities to the claim); they
are how operators and other nodes see the fleet: ``sfumato workers`` lists them, and a
row not refreshed for a while belongs to a worker that died without saying goodbye.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sfumato.store.clock import utcnow
from sfumato.store.models import WorkerRecord


@dataclass(frozen=True)
class Advertisement:
    worker_id: str
    hostname: str
    pid: int
    device: str
    kinds: list[str]
    models: list[str] | None
    loaded_models: list[str]
    free_memory_bytes: int | None
    running_jobs: int
    state: str = "running"


def advertise(session: Session, ad: Advertisement) -> None:
    """Create or refresh this worker's row."""
    record = session.get(WorkerRecord, ad.worker_id)
    if record is None:
        record = WorkerRecord(id=ad.worker_id, started_at=utcnow())
        session.add(record)
    record.hostname = ad.hostname
    record.pid = ad.pid
    record.device = ad.device
    record.kinds = list(ad.kinds)
    record.models = None if ad.models is None else list(ad.models)
    record.loaded_models = list(ad.loaded_models)
    record.free_memory_bytes = ad.free_memory_bytes
    record.running_jobs = ad.running_jobs
    record.state = ad.state
    record.seen_at = utcnow()


def withdraw(session: Session, worker_id: str) -> None:
    session.execute(delete(WorkerRecord).where(WorkerRecord.id == worker_id))


def forget_silent(session: Session, *, older_than_seconds: float) -> int:
    """Drop rows of workers not heard from for a while (they died without withdrawing)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    result = session.execute(delete(WorkerRecord).where(WorkerRecord.seen_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_workers(session: Session) -> list[WorkerRecord]:
    return list(session.scalars(select(WorkerRecord).order_by(WorkerRecord.started_at)))


def advertised_models(session: Session, *, seen_since: datetime) -> list[list[str] | None]:
    """The model lists of running workers heard from since ``seen_since``; None for a worker
    that lists none (it runs any model it has weights for). The table holds one row per
    live worker, so this is a small read."""
    query = select(WorkerRecord.models).where(
        WorkerRecord.seen_at >= seen_since, WorkerRecord.state == "running"
    )
    return [None if models is None else list(models) for models in session.scalars(query)]
