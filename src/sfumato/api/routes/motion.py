"""Motion: clips drawn from text or pictures (read back through ``/generations``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.motion import ImageToVideoBody, SvdMotionBody, TextToVideoBody, created_motion_job
from sfumato.service import videos

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
