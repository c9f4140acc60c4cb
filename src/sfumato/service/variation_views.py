"""A variation row as the API layer sees it (shared by generations and variations)."""

from __future__ import annotations

from sfumato.service.context import Context
from sfumato.service.views import VariationView
from sfumato.store.models import Variation


def variation_view(ctx: Context, variation: Variation) -> VariationView:
    return VariationView(
        id=variation.id,
        status=variation.status,
        transform=variation.transform,
        url=ctx.blobs.url(variation.blob_key) if variation.blob_key else None,
        width=variation.width,
        height=variation.height,
        credit_cost=variation.credit_cost,
        failure_reason=variation.failure_reason,
        created_at=variation.created_at,
    )
