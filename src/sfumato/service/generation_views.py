"""A generation row as every reader sees it: the API's responses, webhook events and the CLI.

Built from the row, the catalog and the blob store alone (no request context), so the
webhook sender renders exactly what ``GET /generations/{id}`` would.
"""

from __future__ import annotations

from sfumato.blobs import BlobStore
from sfumato.engine.catalog import Catalog
from sfumato.service.standing_views import standing_fields
from sfumato.service.variation_views import variation_view
from sfumato.service.views import GenerationView, ImageView, MotionView, SourceView, VideoView
from sfumato.store.models import GeneratedImage, Generation
from sfumato.store.progress import Standing


def generation_view(
    generation: Generation, *, catalog: Catalog, blobs: BlobStore, standing: Standing | None = None
) -> GenerationView:
    """``standing``: its job's queue position or progress, for a reader that asked (a GET)."""
    entry = catalog.resolve(generation.model_key)
    return GenerationView(
        id=generation.id,
        user_id=generation.account_id,
        status=generation.status,
        model_id=generation.model_id,
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        width=generation.width,
        height=generation.height,
        num_images=generation.num_images,
        steps=generation.steps,
        guidance_scale=generation.guidance_scale,
        seed=generation.seed,
        scheduler=generation.scheduler or None,  # "": the model's own sampler, no Leonardo name
        preset_style=generation.preset_style,
        sd_version=(entry.sd_version or None) if entry else None,
        tiling=generation.tiling,
        public=generation.public,
        flags=dict(generation.flags or {}),
        credit_cost=generation.credit_cost,
        failure_reason=generation.failure_reason,
        created_at=generation.created_at,
        updated_at=generation.updated_at,
        source=source_view(generation),
        images=[
            ImageView(
                id=image.id,
                url=blobs.url(image.blob_key),
                seed=image.seed,
                width=image.width,
                height=image.height,
                sha256=image.sha256,
                nsfw=image.nsfw,
                variations=[variation_view(variation, blobs) for variation in image.variations],
                video=video_view(image, blobs),
            )
            for image in generation.images
        ],
        api_key_id=generation.api_key_id,
        model_key=generation.model_key,
        lineage=dict(generation.lineage or {}),
        replay_of=generation.replay_of,
        motion=motion_view(generation),
        **standing_fields(standing),
    )


def video_view(image: GeneratedImage, blobs: BlobStore) -> VideoView | None:
    if image.video_blob_key is None:
        return None
    return VideoView(
        url=blobs.url(image.video_blob_key),
        sha256=image.video_sha256 or "",
        frame_count=image.frame_count or 0,
        fps=image.fps or 0.0,
        duration_seconds=image.duration_seconds or 0.0,
    )


def motion_view(generation: Generation) -> MotionView | None:
    if generation.motion_model is None:
        return None
    return MotionView(
        model=generation.motion_model,
        strength=generation.motion_strength,
        end_frame_image_id=generation.end_frame_image_id,
        end_frame_generated=bool(generation.end_frame_generated),
        end_frame_sha256=generation.end_frame_sha256,
    )


def source_view(generation: Generation) -> SourceView | None:
    if generation.init_sha256 is None:
        return None
    return SourceView(
        init_image_id=generation.init_image_id,
        init_generated_image_id=generation.init_generated_image_id,
        init_sha256=generation.init_sha256,
        init_strength=generation.init_strength or 0.0,
        canvas_type=generation.canvas_type,
        mask_image_id=generation.mask_image_id,
        mask_sha256=generation.mask_sha256,
    )
