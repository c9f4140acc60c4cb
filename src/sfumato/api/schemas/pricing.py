"""``/pricing-calculator`` request and response shapes (PricingCalculatorRequestBody).

Each service's parameter object keeps Leonardo's key names; ``to_params`` turns it
into sfumato's names for ``service.quotes``. Omitted (or null) keys stay omitted, so
the quote fills them in the way the job would.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field

from sfumato.api.schemas.common import WireModel, compact
from sfumato.errors import InvalidRequest

Service = Literal[
    "IMAGE_GENERATION", "FANTASY_AVATAR_GENERATION", "MOTION_SVD_GENERATION", "MOTION_VIDEO_GENERATION",
    "VEO3_MOTION_VIDEO_GENERATION", "LCM_GENERATION", "MODEL_TRAINING", "TEXTURE_GENERATION",
    "UNIVERSAL_UPSCALER", "UNIVERSAL_UPSCALER_ULTRA",
]  # fmt: skip


def _size(alias: str) -> Any:
    return Field(default=None, ge=32, le=1536, alias=alias)


def _num_images() -> Any:
    return Field(default=None, ge=1, le=8, alias="numImages")


MODEL_FLAGS = ("isFluxDev", "isFluxKontext", "isFluxSchnell", "isModelCustom", "isPhoenix", "isSDXL",
               "isSDXLLightning")  # fmt: skip


class ImageGenerationParams(WireModel):
    width: int | None = _size("imageWidth")
    height: int | None = _size("imageHeight")
    inference_steps: int | None = Field(default=None, ge=1, le=60, alias="inferenceSteps")
    num_images: int | None = _num_images()
    controlnets_cost: int | None = Field(default=None, ge=0, alias="controlnetsCost")
    lora_count: int | None = Field(default=None, ge=0, le=10, alias="loraCount")
    is_flux_dev: bool | None = Field(default=None, alias="isFluxDev")
    is_flux_kontext: bool | None = Field(default=None, alias="isFluxKontext")
    is_flux_schnell: bool | None = Field(default=None, alias="isFluxSchnell")
    is_model_custom: bool | None = Field(default=None, alias="isModelCustom")
    is_phoenix: bool | None = Field(default=None, alias="isPhoenix")
    is_sdxl: bool | None = Field(default=None, alias="isSDXL")
    is_sdxl_lightning: bool | None = Field(default=None, alias="isSDXLLightning")
    # Accepted; they do not change what sfumato computes, so they do not change the price.
    alchemy_mode: bool | None = Field(default=None, alias="alchemyMode")
    high_resolution: bool | None = Field(default=None, alias="highResolution")
    is_ultra: bool | None = Field(default=None, alias="isUltra")
    photo_real_mode: bool | None = Field(default=None, alias="photoRealMode")
    photo_real_strength: float | None = Field(default=None, alias="photoRealStrength")
    photo_real_version: str | None = Field(default=None, alias="photoRealVersion")
    prompt_magic: bool | None = Field(default=None, alias="promptMagic")
    prompt_magic_strength: float | None = Field(default=None, alias="promptMagicStrength")
    prompt_magic_version: str | None = Field(default=None, alias="promptMagicVersion")
    # sfumato's addition: quote for one model of this server exactly.
    model_id: str | None = Field(default=None, alias="modelId", max_length=200)

    def to_params(self) -> dict[str, Any]:
        wire = self.model_dump(by_alias=True)
        return compact(
            {
                "model_id": self.model_id,
                "model_flags": {flag: wire[flag] for flag in MODEL_FLAGS},
                "width": self.width,
                "height": self.height,
                "steps": self.inference_steps,
                "num_images": self.num_images,
                "elements": self.lora_count,
                "controlnets_cost": self.controlnets_cost,
            }
        )


class FantasyAvatarParams(WireModel):
    width: int | None = _size("imageWidth")
    height: int | None = _size("imageHeight")
    num_images: int | None = _num_images()

    def to_params(self) -> dict[str, Any]:
        return compact({"width": self.width, "height": self.height, "num_images": self.num_images})


class LcmParams(WireModel):
    width: int | None = Field(default=None, ge=32, le=1536)
    height: int | None = Field(default=None, ge=32, le=1536)
    refine: bool | None = None
    instant_refine: bool | None = Field(default=None, alias="instantRefine")

    def to_params(self) -> dict[str, Any]:
        return compact(
            {"width": self.width, "height": self.height, "refine": self.refine,
             "instant_refine": self.instant_refine}
        )  # fmt: skip


class ModelTrainingParams(WireModel):
    resolution: int | None = None
    dataset_image_count: int | None = Field(default=None, alias="datasetImageCount")
    sd_version: Literal["FLUX_DEV"] | None = None

    def to_params(self) -> dict[str, Any]:
        return compact(
            {"resolution": self.resolution, "dataset_images": self.dataset_image_count,
             "flux_dev": self.sd_version == "FLUX_DEV" or None}
        )  # fmt: skip


class NoParams(WireModel):
    def to_params(self) -> dict[str, Any]:
        return {}


class MotionVideoParams(WireModel):
    resolution: str | None = None

    def to_params(self) -> dict[str, Any]:
        return compact({"resolution": self.resolution})


class TextureParams(WireModel):
    preview: bool | None = None

    def to_params(self) -> dict[str, Any]:
        return compact({"preview": self.preview})


class UniversalUpscalerParams(WireModel):
    megapixel: int | None = Field(default=None, ge=1)

    def to_params(self) -> dict[str, Any]:
        return compact({"megapixels": self.megapixel})


class UniversalUpscalerUltraParams(WireModel):
    input_width: int | None = Field(default=None, ge=1, le=16384, alias="inputWidth")
    input_height: int | None = Field(default=None, ge=1, le=16384, alias="inputHeight")
    upscale_multiplier: float | None = Field(default=None, alias="upscaleMultiplier")

    def to_params(self) -> dict[str, Any]:
        return compact(
            {"input_width": self.input_width, "input_height": self.input_height,
             "multiplier": self.upscale_multiplier}
        )  # fmt: skip


class ServiceParams(WireModel):
    image_generation: ImageGenerationParams | None = Field(default=None, alias="IMAGE_GENERATION")
    fantasy_avatar_generation: FantasyAvatarParams | None = Field(
        default=None, alias="FANTASY_AVATAR_GENERATION"
    )
    lcm_generation: LcmParams | None = Field(default=None, alias="LCM_GENERATION")
    model_training: ModelTrainingParams | None = Field(default=None, alias="MODEL_TRAINING")
    motion_svd_generation: NoParams | None = Field(default=None, alias="MOTION_SVD_GENERATION")
    motion_video_generation: MotionVideoParams | None = Field(default=None, alias="MOTION_VIDEO_GENERATION")
    texture_generation: TextureParams | None = Field(default=None, alias="TEXTURE_GENERATION")
    universal_upscaler: UniversalUpscalerParams | None = Field(default=None, alias="UNIVERSAL_UPSCALER")
    universal_upscaler_ultra: UniversalUpscalerUltraParams | None = Field(
        default=None, alias="UNIVERSAL_UPSCALER_ULTRA"
    )
    veo3_motion_video_generation: MotionVideoParams | None = Field(
        default=None, alias="VEO3_MOTION_VIDEO_GENERATION"
    )


class PricingCalculatorBody(WireModel):
    service: Service | None = None
    service_params: ServiceParams | None = Field(default=None, alias="serviceParams")

    def to_quote(self) -> tuple[str, dict[str, Any]]:
        """The service in sfumato's words (``image_generation`` …) and its parameters."""
        if self.service is None:
            raise InvalidRequest("service is required: one of " + ", ".join(get_args(Service)))
        name = self.service.lower()
        params = getattr(self.service_params, name, None) if self.service_params else None
        return name, params.to_params() if params is not None else {}


def quote_response(cost: int) -> dict[str, Any]:
    return {"calculateProductionApiServiceCost": {"cost": cost}}
