"""The manifest: one record per finished line, written once, after its files are stored.

``<out>/manifest.jsonl``: the line's id and kind, the job id, its final status (COMPLETE
or FAILED), its cost, the stored files (path under ``<out>``, bytes, SHA-256, source URL),
the seeds, the lineage the server recorded, and the earlier attempts that failed. A line
with a manifest record is done; a re-run skips it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sfumato.batch.journal import Journal

FIX = "Repair or delete that line and run again; a deleted line's job is looked at again and its files kept."


class StoredFile(BaseModel):
    path: str  # relative to the output directory
    id: str | None = None  # the output's id on the server (a generated image's: a variation line's "id")
    bytes: int
    sha256: str
    url: str
    media: str


class ManifestRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    source: str  # file and line the request came from
    kind: str
    generation_id: str
    status: str
    cost: int | None = None
    files: list[StoredFile] = Field(default_factory=list)
    seeds: list[int] = Field(default_factory=list)
    lineage: dict[str, Any] | None = None
    failure_reason: str | None = None
    failed_attempts: list[dict[str, Any]] = Field(default_factory=list)


class Manifest:
    def __init__(self, path: Path) -> None:
        self._journal = Journal(path, ManifestRecord, fix_hint=FIX)

    @property
    def path(self) -> Path:
        return self._journal.path

    def load(self) -> dict[str, ManifestRecord]:
        return {record.id: record for record in self._journal.read()}

    def write(self, record: ManifestRecord) -> None:
        self._journal.append(record)

    def close(self) -> None:
        self._journal.close()
