"""Realtime canvas shapes: ``/generations-lcm``, ``/lcm-instant-refine``, ``/lcm-inpainting``,
``/lcm-upscale`` (CreateLCMGenerationRequestBody et al.)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from sfumato.api.schemas.common import WireModel
from sfumato.service.realtime import MAX_SIZE, MIN_SIZE, CanvasRequest, CanvasResult

LcmStyle = Literal[
    "ANIME", "CINEMATIC", "DIGITAL_ART", "DYNAMIC", "ENVIRONMENT", "FANTASY_ART", "ILLUSTRATION",
    "PHOTOGRAPHY", "RENDER_3D", "RAYTRACED", "SKETCH_BW", "SKETCH_COLOR", "VIBRANT", "NONE",
]  # fmt: skip


class LcmBody(WireModel):
    """The fields every canvas request shares. Leonardo takes 512, 640 or 1024 for the size;
    sfumato takes any multiple of 8 in between its bounds."""

    image_data_url: str = Field(alias="imageDataUrl")
    prompt: str = Field(max_length=4000)
    guidance: float | None = Field(default=None, ge=0.5, le=20)
    width: int | None = Field(default=None, ge=MIN_SIZE, le=MAX_SIZE)
    height: int | None = Field(default=None, ge=MIN_SIZE, le=MAX_SIZE)
    request_timestamp: str | None = Field(default=None, alias="requestTimestamp", max_length=200)
    seed: int | None = Field(default=None, ge=0, le=9_999_999_998)
    steps: int | None = Field(default=None, ge=4, le=16)
    strength: float | None = Field(default=None, ge=0.1, le=1)
    style: LcmStyle | None = None

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_8(cls, value: int | None) -> int | None:
        if value is not None and value % 8:
            raise ValueError("must be a multiple of 8")
        return value

    def canvas_request(self, operation: str) -> CanvasRequest:
        return self.to_request(operation)

    def to_request(self, operation: str, **extra: Any) -> CanvasRequest:
        return CanvasRequest(
            operation=operation,
            prompt=self.prompt,
            image_data_url=self.image_data_url,
            width=self.width or 512,
            height=self.height or 512,
            steps=self.steps,
            guidance=self.guidance,
            strength=self.strength,
            seed=self.seed,
            style=self.style,
            request_timestamp=self.request_timestamp,
            **extra,
        )


class LcmInpaintingBody(LcmBody):
    mask_data_url: str = Field(alias="maskDataUrl")

    def canvas_request(self, operation: str) -> CanvasRequest:
        return self.to_request(operation, mask_data_url=self.mask_data_url)


class LcmUpscaleBody(LcmBody):
    refine_creative: bool | None = Field(default=None, alias="refineCreative")
    refine_strength: float | None = Field(default=None, alias="refineStrength", ge=0.5, le=0.9)

    def canvas_request(self, operation: str) -> CanvasRequest:
        return self.to_request(
            operation, refine_creative=bool(self.refine_creative), refine_strength=self.refine_strength
        )


def lcm_job(result: CanvasResult) -> dict[str, Any]:
    return {
        "lcmGenerationJob": {
            "imageDataUrl": [result.image_data_url],
            "requestTimestamp": result.request_timestamp,
            "apiCreditCost": result.credit_cost,
            "cost": {"amount": str(result.credit_cost), "unit": "CREDITS"},
        }
    }
