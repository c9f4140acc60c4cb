"""Video upscale: a finished clip enlarged to 720 px high, as a motion variation of its generation.

The clip's frames go through the catalog's super-resolution model (``SFUMATO_UPSCALER``) one
at a time; the result is a variation row of the clip's generated image (transform
``MOTION_UPSCALE``), read back through ``GET /motion-variations/{id}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table

from sfumato.engine.catalog import UPSCALER_FAMILY
from sfumato.errors import InvalidRequest, NotFound
from sfumato.jobs.kinds import video_upscale
from sfumato.service import admission, availability
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.variation_views import variation_view
from sfumato.service.views import VariationView
from sfumato.store import credits, progress
from sfumato.store import generations as repo
from sfumato.store import variations as store
from sfumato.store.models import Variation, new_id

VARIATIONS: Table = Variation.__table__  # type: ignore[assignment]
MOTION_UPSCALE = "MOTION_UPSCALE"
RESOLUTIONS = {"RESOLUTION_720": 720}


@dataclass(frozen=True)
class CreatedVideoUpscale:
    generation_id: str
    variation_id: str
    credit_cost: int


def target_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """``target_height`` high, the width by the clip's aspect, rounded to an even number."""
    return max(2, round(width * target_height / height / 2) * 2), target_height


def create_video_upscale(
    ctx: Context, principal: Principal, source_generation_id: str, resolution: str
) -> CreatedVideoUpscale:
    if resolution not in RESOLUTIONS:
        raise InvalidRequest(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    upscaler = availability.require_named(ctx, ctx.settings.upscaler, UPSCALER_FAMILY, "SFUMATO_UPSCALER")
    with ctx.db.read() as session:
        generation = repo.get_generation(session, source_generation_id, account_id=principal.account_id)
        if generation is None:
            raise InvalidRequest(f"sourceGenerationId: no generation with id {source_generation_id!r}")
        clip = next((image for image in generation.images if image.video_blob_key), None)
        if generation.status != "COMPLETE" or clip is None or clip.video_blob_key is None:
            raise InvalidRequest(
                f"sourceGenerationId: generation {source_generation_id} is not a finished video"
            )
        image_id, key = clip.id, clip.video_blob_key
        width, height = target_size(clip.width, clip.height, RESOLUTIONS[resolution])
        fps, frames = clip.fps or 0.0, clip.frame_count or 0
    variation_id = new_id()
    cost = ctx.pricing.variation("video_upscale")
    payload = video_upscale.VideoUpscalePayload(
        variation_id=variation_id,
        source_key=key,
        upscaler=upscaler.key,
        width=width,
        height=height,
        fps=fps,
        frames=frames,
        api_key_id=principal.api_key_id,
    )
    submitted = admission.submission(
        ctx,
        principal,
        cost=cost,
        subject_kind=credits.SubjectKind.VARIATION,
        subject_id=variation_id,
        subject_table=VARIATIONS,
        subject={
            "id": variation_id,
            "account_id": principal.account_id,
            "generated_image_id": image_id,
            "transform": MOTION_UPSCALE,
            "params": {"resolution": resolution, "upscaler": upscaler.key},
            "credit_cost": cost,
        },
        job=video_upscale.KIND.job_row(
            payload, account_id=principal.account_id, max_attempts=ctx.settings.max_attempts
        ),
    )
    accepted = admission.admit(ctx, submitted, "video upscale")
    return CreatedVideoUpscale(source_generation_id, accepted.subject_id, accepted.cost)


def get_motion_variation(ctx: Context, principal: Principal, variation_id: str) -> VariationView:
    with ctx.db.read() as session:
        variation = store.get(session, variation_id, account_id=principal.account_id)
        if variation is None or variation.transform != MOTION_UPSCALE:
            raise NotFound(f"No motion variation with id {variation_id!r}")
        pending = variation.status == store.PENDING
        return variation_view(
            variation, ctx.blobs, progress.of_subject(session, variation_id) if pending else None
        )
