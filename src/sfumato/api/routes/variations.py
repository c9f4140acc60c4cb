"""``/variations``: jobs on existing pictures (upscale, no background, unzoom) and their reads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.variations import (
    UniversalUpscalerBody,
    VariationNoBgBody,
    VariationUnzoomBody,
    VariationUpscaleBody,
    created_variation,
)
from sfumato.api.schemas.views import variation_object
from sfumato.service import variations

router = APIRouter(tags=["variations"])


@router.post("/variations/upscale")
def create_variation_upscale(
    body: VariationUpscaleBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    return created_variation("sdUpscaleJob", variations.create_upscale(ctx, principal, body.id))


@router.post("/variations/nobg")
def create_variation_no_bg(
    body: VariationNoBgBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    created = variations.create_nobg(ctx, principal, body.id, is_variation=bool(body.is_variation))
    return created_variation("sdNobgJob", created)


@router.post("/variations/unzoom")
def create_variation_unzoom(
    body: VariationUnzoomBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    created = variations.create_unzoom(ctx, principal, body.id, is_variation=bool(body.is_variation))
    return created_variation("sdUnzoomJob", created)


@router.post("/variations/universal-upscaler")
def create_universal_upscaler_job(
    body: UniversalUpscalerBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    created = variations.create_universal_upscale(ctx, principal, body.to_request())
    return created_variation("universalUpscaler", created)


@router.get("/variations/{variation_id}")
def get_variation_by_id(variation_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    view = variations.get_variation(ctx, principal, variation_id)
    return {"generated_image_variation_generic": [variation_object(view)]}
