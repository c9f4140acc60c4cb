"""The realtime canvas: synchronous LCM requests that answer with the picture itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.realtime import LcmBody, LcmInpaintingBody, LcmUpscaleBody, lcm_job
from sfumato.config import Settings
from sfumato.service import realtime

router = APIRouter(tags=["realtime canvas"])

# The canvas requests carry their pictures in the JSON body, as data URLs.
PICTURES_PER_BODY = {"/generations-lcm": 1, "/lcm-instant-refine": 1, "/lcm-inpainting": 2, "/lcm-upscale": 1}


def body_limits(settings: Settings) -> dict[str, int]:
    """Each canvas route's largest body: the JSON limit plus room for its largest pictures."""
    picture = 4 * -(-settings.upload_max_bytes // 3)  # base64 of the largest upload
    json_limit = settings.max_json_body_bytes
    return {path: json_limit + pictures * picture for path, pictures in PICTURES_PER_BODY.items()}


@router.post("/generations-lcm")
async def create_lcm_generation(
    body: LcmBody, ctx: ContextDep, principal: PrincipalDep, after: BackgroundTasks
) -> dict[str, Any]:
    request = body.to_request(realtime.GENERATE)
    return lcm_job(await realtime.run_canvas(ctx, principal, request, after.add_task))


@router.post("/lcm-instant-refine")
async def perform_instant_refine(
    body: LcmBody, ctx: ContextDep, principal: PrincipalDep, after: BackgroundTasks
) -> dict[str, Any]:
    request = body.to_request(realtime.REFINE)
    return lcm_job(await realtime.run_canvas(ctx, principal, request, after.add_task))


@router.post("/lcm-inpainting")
async def perform_inpainting_lcm(
    body: LcmInpaintingBody, ctx: ContextDep, principal: PrincipalDep, after: BackgroundTasks
) -> dict[str, Any]:
    request = body.to_request(realtime.INPAINT, mask_data_url=body.mask_data_url)
    return lcm_job(await realtime.run_canvas(ctx, principal, request, after.add_task))


@router.post("/lcm-upscale")
async def perform_alchemy_upscale_lcm(
    body: LcmUpscaleBody, ctx: ContextDep, principal: PrincipalDep, after: BackgroundTasks
) -> dict[str, Any]:
    request = body.to_request(
        realtime.UPSCALE, refine_creative=bool(body.refine_creative), refine_strength=body.refine_strength
    )
    return lcm_job(await realtime.run_canvas(ctx, principal, request, after.add_task))
