"""Where a training records its end: its trained LoRA's row (a custom model or an element)."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from sfumato.jobs.artifacts import IMAGE, WEIGHTS, Artifact
from sfumato.store import credits
from sfumato.store import trained_loras as store
from sfumato.store.clock import utcnow
from sfumato.store.models import Job


class TrainingRef(Protocol):
    @property
    def lora_uuid(self) -> str: ...

    @property
    def api_key_id(self) -> str | None: ...

    @property
    def suite(self) -> tuple[str, ...]: ...

    @property
    def suite_seed(self) -> int: ...


class TrainingSubject:
    """COMPLETE with its weights, lineage and the prompt suite's images; FAILED and refunded."""

    def complete(
        self,
        session: Session,
        job: Job,
        payload: TrainingRef,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        row = store.by_uuid(session, payload.lora_uuid)
        if row is None:  # deleted while it trained
            return False
        [weights] = [artifact for artifact in artifacts if artifact.type == WEIGHTS]
        pictures = sorted((a for a in artifacts if a.type == IMAGE), key=lambda a: a.position)
        row.weights_key = weights.blob_key
        row.weights_sha256 = weights.sha256
        row.weights_size_bytes = weights.size_bytes
        row.lineage = {**row.lineage, **lineage, "lora_sha256": weights.sha256}
        row.evaluation = {
            "images": [
                {
                    "prompt": payload.suite[picture.position - 1],
                    "seed": picture.seed,
                    "blob_key": picture.blob_key,
                    "sha256": picture.sha256,
                    "width": picture.width,
                    "height": picture.height,
                }
                for picture in pictures
            ]
        }
        row.status = "COMPLETE"
        row.updated_at = utcnow()
        return True

    def fail(self, session: Session, job: Job, payload: TrainingRef, reason: str) -> None:
        row = store.by_uuid(session, payload.lora_uuid)
        if row is not None:
            row.status = "FAILED"
            row.failure_reason = reason
            row.updated_at = utcnow()
        credits.refund(session, account_id=job.account_id, subject_id=payload.lora_uuid, note=reason)

    def webhook_target(
        self, session: Session, job: Job, payload: TrainingRef
    ) -> tuple[str | None, str | None]:
        return payload.api_key_id, payload.lora_uuid
