"""``/models-3d`` and ``/generations-texture`` request and response shapes."""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field

from sfumato.api.schemas.common import WireModel, compact, timestamp
from sfumato.service.model_assets import ModelAssetView, ModelUploadTicket
from sfumato.service.textures import CreatedTexture, TextureRequest, TextureView


class UploadModelAssetBody(WireModel):
    model_extension: str | None = Field(default=None, alias="modelExtension", max_length=16)
    name: str | None = Field(default=None, max_length=200)


class CreateTextureBody(WireModel):
    model_asset_id: str | None = Field(default=None, alias="modelAssetId", max_length=64)
    prompt: str | None = Field(default=None, max_length=1500)
    negative_prompt: str | None = Field(default=None, max_length=1500)
    seed: int | None = None
    sd_version: str | None = Field(default=None, max_length=32)
    preview: bool | None = None
    preview_direction: str | None = Field(default=None, max_length=16)
    front_rotation_offset: int | None = None

    def to_request(self) -> TextureRequest:
        return TextureRequest(
            model_asset_id=self.model_asset_id,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            seed=self.seed,
            sd_version=self.sd_version,
            preview=bool(self.preview),
            preview_direction=self.preview_direction,
            front_rotation_offset=self.front_rotation_offset,
        )


def upload_model_asset(ticket: ModelUploadTicket) -> dict[str, Any]:
    return {
        "uploadModelAsset": {
            "modelId": ticket.model_id,
            "modelUrl": ticket.url,
            "modelFields": json.dumps(ticket.fields),
            "modelKey": ticket.key,
        }
    }


def model_asset_object(view: ModelAssetView) -> dict[str, Any]:
    return compact(
        {
            "id": view.id,
            "name": view.name,
            "userId": view.user_id,
            "meshUrl": view.mesh_url,
            "createdAt": timestamp(view.created_at),
            "updatedAt": timestamp(view.updated_at),
        }
    )


def texture_job(created: CreatedTexture) -> dict[str, Any]:
    return {
        "textureGenerationJob": {
            "id": created.texture_id,
            "apiCreditCost": created.credit_cost,
            "cost": {"amount": str(created.credit_cost), "unit": "CREDITS"},
        }
    }


def texture_object(view: TextureView) -> dict[str, Any]:
    """Leonardo's fields, then sfumato's additions (size and hash of each map, the failure,
    queue position and progress, the lineage, and the UV-unwrapped mesh when one was made)."""
    rendered: dict[str, Any] = {
        "id": view.id,
        "createdAt": timestamp(view.created_at),
        "prompt": view.prompt,
        "negativePrompt": view.negative_prompt,
        "seed": view.seed,
        "status": view.status,
        "model_asset_texture_images": [
            {
                "id": texture_map.id,
                "type": texture_map.type,
                "url": texture_map.url,
                "width": texture_map.width,
                "height": texture_map.height,
                "sha256": texture_map.sha256,
            }
            for texture_map in view.maps
        ],
        "modelAssetId": view.model_asset_id,
        "preview": view.preview,
        "lineage": view.lineage,
    }
    extras: dict[str, Any] = {"failureReason": view.failure_reason, "uvMeshUrl": view.uv_mesh_url}
    standing = view.standing
    if standing is not None:
        extras["queuePosition"] = standing.queue_position
        if standing.progress is not None:
            extras["progress"] = compact(
                {
                    "stage": standing.progress.stage,
                    "step": standing.progress.step,
                    "total": standing.progress.total,
                }
            )
    return {**rendered, **compact(extras)}
