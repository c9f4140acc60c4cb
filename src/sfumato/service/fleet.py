"""The worker fleet as operators see it: who is alive, what each can run and holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sfumato.service.context import Context
from sfumato.store import workers


@dataclass(frozen=True)
class WorkerView:
    id: str
    device: str
    state: str
    running_jobs: int
    kinds: list[str]
    models: list[str] | None  # None: any model it has weights for
    loaded_models: list[str]
    free_memory_bytes: int | None
    started_at: datetime
    seen_at: datetime


def list_workers(ctx: Context) -> list[WorkerView]:
    with ctx.db.read() as session:
        return [
            WorkerView(
                id=r.id,
                device=r.device,
                state=r.state,
                running_jobs=r.running_jobs,
                kinds=list(r.kinds),
                models=None if r.models is None else list(r.models),
                loaded_models=list(r.loaded_models),
                free_memory_bytes=r.free_memory_bytes,
                started_at=r.started_at,
                seen_at=r.seen_at,
            )
            for r in workers.list_workers(session)
        ]
