"""``/models`` (custom models) and ``/elements`` request and response shapes."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sfumato.api.schemas.common import WireModel, compact, timestamp
from sfumato.service.platform_elements import PlatformElement
from sfumato.service.training import CreatedTraining, TrainedLoraView, TrainingRequest
from sfumato.store.training_tables import ELEMENT, MODEL

# Leonardo's SdVersions: a value outside it would fail the SDK's response validation.
SD_VERSIONS = {"v1_5", "v2", "v3", "SDXL_0_8", "SDXL_0_9", "SDXL_1_0", "SDXL_LIGHTNING", "PHOENIX", "FLUX",
               "FLUX_DEV", "KINO_2_0"}  # fmt: skip
MODEL_TYPES = {"GENERAL", "BUILDINGS", "CHARACTERS", "ENVIRONMENTS", "FASHION", "ILLUSTRATIONS", "GAME_ITEMS",
               "GRAPHICAL_ELEMENTS", "PHOTOGRAPHY", "PIXEL_ART", "PRODUCT_DESIGN", "TEXTURES", "UI_ELEMENTS",
               "VECTOR"}  # fmt: skip


class CreateModelBody(WireModel):
    name: str = Field(max_length=200)
    dataset_id: str = Field(alias="datasetId", max_length=64)
    instance_prompt: str = Field(max_length=1000)
    description: str | None = Field(default=None, max_length=2000)
    model_type: str = Field(default="GENERAL", alias="modelType", max_length=32)
    nsfw: bool = False
    resolution: int = 512
    sd_version: str | None = Field(default=None, max_length=32)
    strength: str = Field(default="MEDIUM", max_length=16)

    def to_request(self) -> TrainingRequest:
        return TrainingRequest(purpose=MODEL, name=self.name, dataset_id=self.dataset_id,
                               instance_prompt=self.instance_prompt, description=self.description,
                               sd_version=self.sd_version, resolution=self.resolution, strength=self.strength,
                               model_type=self.model_type, nsfw=self.nsfw)  # fmt: skip


class CreateElementBody(WireModel):
    learning_rate: float
    lora_focus: str = Field(max_length=32)
    num_train_epochs: int = Field(ge=1, le=1000)
    dataset_id: str = Field(default="", alias="datasetId", max_length=64)
    description: str | None = Field(default=None, max_length=2000)
    instance_prompt: str = Field(default="", max_length=1000)
    name: str = Field(default="placeholder", max_length=200)
    resolution: int = 1024
    sd_version: str | None = Field(default=None, max_length=32)
    train_text_encoder: bool = True

    def to_request(self) -> TrainingRequest:
        return TrainingRequest(purpose=ELEMENT, name=self.name, dataset_id=self.dataset_id,
                               instance_prompt=self.instance_prompt, description=self.description,
                               sd_version=self.sd_version, resolution=self.resolution,
                               learning_rate=self.learning_rate, epochs=self.num_train_epochs,
                               train_text_encoder=self.train_text_encoder, focus=self.lora_focus)  # fmt: skip


def training_job(created: CreatedTraining, id_field: str) -> dict[str, Any]:
    ident: int | str = created.lora_id if id_field == "userLoraId" else created.uuid
    return {
        "sdTrainingJob": {
            id_field: ident,
            "apiCreditCost": created.credit_cost,
            "cost": {"amount": str(created.credit_cost), "unit": "CREDITS"},
        }
    }


def _extras(view: TrainedLoraView) -> dict[str, Any]:
    """sfumato's additions: failure, queue position and progress, lineage and the prompt suite."""
    extras: dict[str, Any] = {
        "failureReason": view.failure_reason,
        "lineage": view.lineage,
        "trainingSettings": view.settings,
        "baseModelKey": view.base_model_key,
        "evaluation": [
            {"prompt": image["prompt"], "seed": image["seed"], "url": image["url"], "sha256": image["sha256"]}
            for image in view.evaluation
        ],
    }
    standing = view.standing
    if standing is not None:
        extras["queuePosition"] = standing.queue_position
        if standing.progress is not None:
            progress = standing.progress
            extras["progress"] = compact(
                {
                    "stage": progress.stage,
                    "step": progress.step,
                    "total": progress.total,
                    "loss": progress.loss,
                }
            )
    return extras


def custom_model_object(view: TrainedLoraView) -> dict[str, Any]:
    resolution = int(view.settings.get("resolution", 512))
    model_type = view.settings.get("model_type")
    return compact(
        {
            "id": view.uuid,
            "name": view.name,
            "description": view.description,
            "instancePrompt": view.instance_prompt,
            "modelHeight": resolution,
            "modelWidth": resolution,
            "public": False,
            "sdVersion": view.sd_version if view.sd_version in SD_VERSIONS else None,
            "status": view.status,
            "type": model_type if model_type in MODEL_TYPES else "GENERAL",
            "createdAt": timestamp(view.created_at),
            "updatedAt": timestamp(view.updated_at),
            **_extras(view),
        }
    )


def element_object(view: TrainedLoraView) -> dict[str, Any]:
    settings = view.settings
    return compact(
        {
            "id": view.id,
            "akUUID": view.uuid,
            "name": view.name,
            "description": view.description,
            "instancePrompt": view.instance_prompt,
            "baseModel": view.sd_version,
            "focus": settings.get("focus"),
            "learningRate": settings.get("learning_rate"),
            "resolution": settings.get("resolution"),
            "status": view.status,
            "trainTextEncoder": settings.get("train_text_encoder"),
            "trainingEpoch": settings.get("epochs"),
            "createdAt": timestamp(view.created_at),
            "updatedAt": timestamp(view.updated_at),
            **_extras(view),
        }
    )


def listed_element(view: TrainedLoraView) -> dict[str, Any]:
    """An element as ``GET /elements`` lists it beside the platform's."""
    return compact(
        {
            "akUUID": view.uuid,
            "name": view.name,
            "description": view.description,
            "baseModel": view.sd_version if view.sd_version in SD_VERSIONS else None,
            "creatorName": "you",
            "weightDefault": 1,
            "weightMin": -1,
            "weightMax": 2,
        }
    )


def platform_element(element: PlatformElement) -> dict[str, Any]:
    """An installed platform element as ``GET /elements`` lists it."""
    return compact(
        {
            "akUUID": element.id,
            "name": element.name,
            "description": element.description,
            "baseModel": element.sd_version if element.sd_version in SD_VERSIONS else None,
            "creatorName": "sfumato",
            "weightDefault": round(element.weight_default),
            "weightMin": round(element.weight_min),
            "weightMax": round(element.weight_max),
        }
    )
