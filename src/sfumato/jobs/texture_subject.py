"""Where a texture generation records its end: its row's maps, or its failure and refund."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy.orm import Session

from sfumato.jobs.artifacts import IMAGE, MESH, Artifact
from sfumato.store import credits
from sfumato.store import model_assets as store
from sfumato.store.clock import utcnow
from sfumato.store.model_asset_tables import TextureGeneration
from sfumato.store.models import Job, new_id


class TextureRef(Protocol):
    @property
    def texture_id(self) -> str: ...

    @property
    def api_key_id(self) -> str | None: ...

    @property
    def map_types(self) -> tuple[str, ...]: ...


class TextureSubject:
    """COMPLETE with its maps (and the unwrapped mesh they fit, if one was made); FAILED and refunded."""

    def complete(
        self,
        session: Session,
        job: Job,
        payload: TextureRef,
        artifacts: list[Artifact],
        lineage: dict[str, object],
    ) -> bool:
        row = session.get(TextureGeneration, payload.texture_id, with_for_update=True)
        if row is None or row.status != store.PENDING:  # deleted while it ran
            credits.refund(session, account_id=job.account_id, subject_id=payload.texture_id, note="deleted")
            return False
        pictures = sorted((a for a in artifacts if a.type == IMAGE), key=lambda a: a.position)
        row.images = [
            {
                "id": new_id(),
                "type": map_type,
                "blob_key": picture.blob_key,
                "sha256": picture.sha256,
                "width": picture.width,
                "height": picture.height,
            }
            for map_type, picture in zip(payload.map_types, pictures, strict=True)
        ]
        unwrapped = [a for a in artifacts if a.type == MESH]
        extra = {"uv_mesh_key": unwrapped[0].blob_key} if unwrapped else {}
        row.lineage = {**row.lineage, **lineage, **extra}
        row.status = store.COMPLETE
        row.updated_at = utcnow()
        return True

    def fail(self, session: Session, job: Job, payload: TextureRef, reason: str) -> None:
        row = session.get(TextureGeneration, payload.texture_id, with_for_update=True)
        if row is not None and row.status == store.PENDING:
            row.status = store.FAILED
            row.failure_reason = reason
            row.updated_at = utcnow()
        credits.refund(session, account_id=job.account_id, subject_id=payload.texture_id, note=reason)

    def webhook_target(
        self, session: Session, job: Job, payload: TextureRef
    ) -> tuple[str | None, str | None]:
        return payload.api_key_id, payload.texture_id
