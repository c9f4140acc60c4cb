"""Where variation and realtime jobs record their end (see ``outcomes.Subject``).

Each runs inside the transaction that holds the job's lease, so the row's new state, the
refund of a failure and the job's own state commit together or not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from sfumato.store import credits
from sfumato.store import realtime as realtime_store
from sfumato.store import variations as variation_store
from sfumato.store.models import Job, RealtimeRequest, Variation

if TYPE_CHECKING:
    from sfumato.worker.outcomes import StoredImage, Subject


class VariationSubject:
    """A variation row: its picture on success; FAILED and refunded on failure."""

    def complete(
        self, session: Session, job: Job, images: list[StoredImage], lineage: dict[str, object]
    ) -> bool:
        variation_id = str(job.payload["variation_id"])
        variation = session.get(Variation, variation_id, with_for_update=True)
        if variation is None:  # its image was deleted meanwhile: the work is wasted, not charged
            credits.refund(
                session, account_id=job.account_id, generation_id=variation_id, note="source deleted"
            )
            return False
        [image] = images
        variation_store.complete(
            variation,
            key=image.blob_key,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            sha256=image.sha256,
            lineage=lineage,
        )
        return True

    def fail(self, session: Session, job: Job, reason: str) -> None:
        variation_id = str(job.payload["variation_id"])
        variation = session.get(Variation, variation_id, with_for_update=True)
        if variation is not None:
            variation_store.fail(variation, reason)
        credits.refund(session, account_id=job.account_id, generation_id=variation_id, note=reason)

    def output_keys(self, payload: dict[str, Any], lease: int) -> list[str]:
        return [variation_store.blob_key(str(payload["variation_id"]), lease)]


class RealtimeSubject:
    """A realtime request: its output for the waiting caller, unless the caller gave up."""

    def complete(
        self, session: Session, job: Job, images: list[StoredImage], lineage: dict[str, object]
    ) -> bool:
        request = session.get(RealtimeRequest, str(job.payload["request_id"]), with_for_update=True)
        if request is None or request.status != realtime_store.PENDING:
            return False  # abandoned (timed out, refunded): nobody reads this output
        [image] = images
        realtime_store.complete(session, request, key=image.blob_key, lineage=lineage)
        return True

    def fail(self, session: Session, job: Job, reason: str) -> None:
        request_id = str(job.payload["request_id"])
        request = session.get(RealtimeRequest, request_id, with_for_update=True)
        if request is not None and request.status == realtime_store.PENDING:
            realtime_store.finish(session, request, realtime_store.FAILED, reason)
            credits.refund(session, account_id=job.account_id, generation_id=request_id, note=reason)

    def output_keys(self, payload: dict[str, Any], lease: int) -> list[str]:
        return [realtime_store.output_key(str(payload["request_id"]), lease)]


# Job kind → where it records its end; kinds not listed record to their generation.
SUBJECTS: dict[str, Subject] = {
    variation_store.JOB_KIND: VariationSubject(),
    realtime_store.JOB_KIND: RealtimeSubject(),
}
