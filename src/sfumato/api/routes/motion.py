"""Motion: clips drawn from text or pictures (read back through ``/generations``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.motion import (
    ImageToVideoBody,
    SvdMotionBody,
    TextToVideoBody,
    VideoUpscaleBody,
    created_motion_job,
)
from sfumato.api.schemas.views import motion_variation_object
from sfumato.service import video_upscales, videos

router = APIRouter(tags=["motion"])
VIDEO_JOB, SVD_JOB = "motionVideoGenerationJob", "motionSvdGenerationJob"


@router.post("/generations-text-to-video")
def create_text_to_video(body: TextToVideoBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = videos.create_video(ctx, principal, body.to_request())
    return created_motion_job(VIDEO_JOB, created.generation_id, created.credit_cost)


@router.post("/generations-image-to-video")
def create_image_to_video(body: ImageToVideoBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = videos.create_video(ctx, principal, body.to_request())
    return created_motion_job(VIDEO_JOB, created.generation_id, created.credit_cost)


@router.post("/generations-motion-svd")
def create_svd_motion(body: SvdMotionBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = videos.create_video(ctx, principal, body.to_request())
    return created_motion_job(SVD_JOB, created.generation_id, created.credit_cost)


@router.post("/generations-video-upscale")
def create_video_upscale(body: VideoUpscaleBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    created = video_upscales.create_video_upscale(ctx, principal, body.source_generation_id, body.resolution)
    return created_motion_job(
        VIDEO_JOB, created.generation_id, created.credit_cost, variationId=created.variation_id
    )


@router.get("/motion-variations/{variation_id}")
def get_motion_variation(variation_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    view = video_upscales.get_motion_variation(ctx, principal, variation_id)
    return {"generated_image_variation_motion": [motion_variation_object(view)]}
