"""The realtime canvas: synchronous LCM requests that answer with the picture itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from sfumato.api import canvas_submit
from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.realtime import LcmBody, LcmInpaintingBody, LcmUpscaleBody
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


# A plainly valid request is served by the lean path (sfumato.api.lean_path); both ways
# answer through sfumato.api.canvas_submit. (A docstring here would join the API document.)
@router.post("/generations-lcm", response_model=dict[str, Any])
async def create_lcm_generation(
    body: LcmBody, ctx: ContextDep, principal: PrincipalDep, request: Request
) -> Response:
    answer = await canvas_submit.run(ctx, principal, body, request.scope, operation=realtime.GENERATE)
    return answer.response()


@router.post("/lcm-instant-refine", response_model=dict[str, Any])
async def perform_instant_refine(
    body: LcmBody, ctx: ContextDep, principal: PrincipalDep, request: Request
) -> Response:
    answer = await canvas_submit.run(ctx, principal, body, request.scope, operation=realtime.REFINE)
    return answer.response()


@router.post("/lcm-inpainting", response_model=dict[str, Any])
async def perform_inpainting_lcm(
    body: LcmInpaintingBody, ctx: ContextDep, principal: PrincipalDep, request: Request
) -> Response:
    answer = await canvas_submit.run(ctx, principal, body, request.scope, operation=realtime.INPAINT)
    return answer.response()


@router.post("/lcm-upscale", response_model=dict[str, Any])
async def perform_alchemy_upscale_lcm(
    body: LcmUpscaleBody, ctx: ContextDep, principal: PrincipalDep, request: Request
) -> Response:
    answer = await canvas_submit.run(ctx, principal, body, request.scope, operation=realtime.UPSCALE)
    return answer.response()
