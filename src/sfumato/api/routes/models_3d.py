"""``/models-3d`` (uploaded meshes) and ``/generations-texture`` (textures painted for them)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.schemas.models_3d import (
    CreateTextureBody,
    UploadModelAssetBody,
    model_asset_object,
    texture_job,
    texture_object,
    upload_model_asset,
)
from sfumato.service import model_assets, textures

router = APIRouter(tags=["3D models and textures"])
Limit = Annotated[int, Query(ge=1, le=model_assets.LIST_LIMIT)]
Offset = Annotated[int, Query(ge=0)]


@router.post("/models-3d/upload")
def upload_model(body: UploadModelAssetBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return upload_model_asset(model_assets.create_upload(ctx, principal, body.model_extension, body.name))


@router.get("/models-3d/user/{user_id}")
def list_models(
    user_id: str, ctx: ContextDep, principal: PrincipalDep, limit: Limit = 10, offset: Offset = 0
) -> dict[str, Any]:
    views = model_assets.list_assets(ctx, principal, user_id, limit=limit, offset=offset)
    return {"model_assets": [model_asset_object(view) for view in views]}


@router.get("/models-3d/{model_id}")
def get_model(model_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"model_assets_by_pk": model_asset_object(model_assets.get_asset(ctx, principal, model_id))}


@router.delete("/models-3d/{model_id}")
def delete_model(model_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {"delete_model_assets_by_pk": {"id": model_assets.delete_asset(ctx, principal, model_id)}}


@router.post("/generations-texture")
def create_texture(body: CreateTextureBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return texture_job(textures.create_texture(ctx, principal, body.to_request()))


@router.get("/generations-texture/model/{model_id}")
def list_textures(
    model_id: str, ctx: ContextDep, principal: PrincipalDep, limit: Limit = 10, offset: Offset = 0
) -> dict[str, Any]:
    views = textures.list_textures(ctx, principal, model_id, limit=limit, offset=offset)
    return {"model_asset_texture_generations": [texture_object(view) for view in views]}


@router.get("/generations-texture/{texture_id}")
def get_texture(texture_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {
        "model_asset_texture_generations_by_pk": texture_object(
            textures.get_texture(ctx, principal, texture_id)
        )
    }


@router.delete("/generations-texture/{texture_id}")
def delete_texture(texture_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return {
        "delete_model_asset_texture_generations_by_pk": {
            "id": textures.delete_texture(ctx, principal, texture_id)
        }
    }
