"""The checkpoint: every job id recorded the moment the server hands it out.

``<out>/checkpoint.jsonl`` holds one record per event of a line's jobs: ``submitted``
(the job id and its cost) and ``failed`` (an attempt that failed and will be retried
under ``--retry-failed``). A re-run reads it back: a line with a job and no manifest
record is in flight and is looked at again, never submitted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sfumato.batch.journal import Journal

FIX = (
    "Repair or delete that line and run again: a line whose job is forgotten is submitted "
    "again with the same Idempotency-Key, which the server answers with the job it already "
    "made (for as long as it keeps keys; sfumato: SFUMATO_IDEMPOTENCY_TTL_SECONDS)."
)


class CheckpointRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: Literal["submitted", "failed"]
    line: str = Field(min_length=1)
    attempt: int = Field(ge=0)
    job: str = Field(min_length=1)
    kind: str
    cost: int | None = None
    reason: str | None = None
    at: datetime


@dataclass
class LineProgress:
    """What the checkpoint says of one line: its current attempt and job, and past failures."""

    attempt: int = 0
    job: str | None = None
    cost: int | None = None
    failures: list[dict[str, Any]] | None = None


class Checkpoint:
    def __init__(self, path: Path) -> None:
        self._journal = Journal(path, CheckpointRecord, fix_hint=FIX)

    @property
    def path(self) -> Path:
        return self._journal.path

    def load(self) -> dict[str, LineProgress]:
        lines: dict[str, LineProgress] = {}
        for record in self._journal.read():
            state = lines.setdefault(record.line, LineProgress())
            if record.event == "submitted":
                state.attempt, state.job, state.cost = record.attempt, record.job, record.cost
            else:
                failure = {"attempt": record.attempt, "job": record.job, "reason": record.reason}
                state.failures = [*(state.failures or []), failure]
                state.attempt, state.job, state.cost = record.attempt + 1, None, None
        return lines

    def submitted(self, line: str, attempt: int, job: str, kind: str, cost: int | None) -> None:
        now = datetime.now(UTC)
        record = CheckpointRecord(
            event="submitted", line=line, attempt=attempt, job=job, kind=kind, cost=cost, at=now
        )
        self._journal.append(record)

    def failed(self, line: str, attempt: int, job: str, kind: str, reason: str | None) -> None:
        now = datetime.now(UTC)
        record = CheckpointRecord(
            event="failed", line=line, attempt=attempt, job=job, kind=kind, reason=reason, at=now
        )
        self._journal.append(record)

    def close(self) -> None:
        self._journal.close()
