"""A variation row as the API layer sees it (shared by generations, variations and webhooks)."""

from __future__ import annotations

from sfumato.blobs import BlobStore
from sfumato.service.standing_views import standing_fields
from sfumato.service.views import VariationView
from sfumato.store.models import Variation
from sfumato.store.progress import Standing


def variation_view(variation: Variation, blobs: BlobStore, standing: Standing | None = None) -> VariationView:
    """``standing``: its job's queue position or progress, for a reader that asked (a GET)."""
    return VariationView(
        id=variation.id,
        status=variation.status,
        transform=variation.transform,
        url=blobs.url(variation.blob_key) if variation.blob_key else None,
        width=variation.width,
        height=variation.height,
        credit_cost=variation.credit_cost,
        failure_reason=variation.failure_reason,
        created_at=variation.created_at,
        lineage=dict(variation.lineage or {}),
        nsfw=bool(variation.nsfw),
        **standing_fields(standing),
    )
