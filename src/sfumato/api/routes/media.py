"""``/media``: presigned uploads of images and short videos for later jobs, read, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.media import UploadMediaBody, media_object, upload_media
from sfumato.service import media

router = APIRouter(tags=["media"])


@router.post("/media")
def create_media(body: UploadMediaBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return upload_media(media.create_upload(ctx, principal, body.extension))


@router.get("/media/{media_id}")
def get_media(media_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"uploaded_media_by_pk": media_object(media.get_media(ctx, principal, media_id))}


@router.delete("/media/{media_id}")
def delete_media(media_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"delete_uploaded_media_by_pk": {"id": media.delete_media(ctx, principal, media_id)}}
