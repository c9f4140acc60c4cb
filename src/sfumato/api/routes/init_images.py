"""``/init-image`` and ``/canvas-init-image``: presigned uploads of images to edit, read, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.init_images import (
    UploadCanvasInitImageBody,
    UploadInitImageBody,
    init_image_object,
    upload_canvas_init_image,
    upload_init_image,
)
from sfumato.service import uploads

router = APIRouter(tags=["init images"])


@router.post("/init-image")
def create_init_image(body: UploadInitImageBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return upload_init_image(uploads.create_upload(ctx, principal, body.extension))


@router.post("/canvas-init-image")
def create_canvas_init_image(
    body: UploadCanvasInitImageBody, ctx: ContextDep, principal: PrincipalDep
) -> dict[str, Any]:
    init, mask = uploads.create_uploads(
        ctx, principal, [("initExtension", body.init_extension), ("maskExtension", body.mask_extension)]
    )
    return upload_canvas_init_image(init, mask)


@router.get("/init-image/{image_id}")
def get_init_image(image_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"init_images_by_pk": init_image_object(uploads.get_init_image(ctx, principal, image_id))}


@router.delete("/init-image/{image_id}")
def delete_init_image(image_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"delete_init_images_by_pk": {"id": uploads.delete_init_image(ctx, principal, image_id)}}
