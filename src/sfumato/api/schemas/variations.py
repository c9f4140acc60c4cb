"""``/variations`` shapes: upscale, nobg, unzoom, universal upscaler and the variation object."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sfumato.api.schemas.common import WireModel
from sfumato.service.variations import CreatedVariation, UniversalUpscaleRequest


class VariationUpscaleBody(WireModel):
    id: str = Field(max_length=64)


class VariationNoBgBody(WireModel):
    id: str = Field(max_length=64)
    is_variation: bool | None = Field(default=None, alias="isVariation")


class VariationUnzoomBody(WireModel):
    id: str = Field(max_length=64)
    is_variation: bool | None = Field(default=None, alias="isVariation")


class UniversalUpscalerBody(WireModel):
    generated_image_id: str | None = Field(default=None, alias="generatedImageId", max_length=64)
    init_image_id: str | None = Field(default=None, alias="initImageId", max_length=64)
    variation_id: str | None = Field(default=None, alias="variationId", max_length=64)
    upscale_multiplier: float | None = Field(default=None, alias="upscaleMultiplier", ge=1.0, le=2.0)
    creativity_strength: int | None = Field(default=None, alias="creativityStrength", ge=1, le=10)
    upscaler_style: (
        Literal["GENERAL", "CINEMATIC", "2D ART & ILLUSTRATION", "CG ART & GAME ASSETS"] | None
    ) = Field(default=None, alias="upscalerStyle")
    ultra_upscale_style: Literal["ARTISTIC", "REALISTIC"] | None = Field(
        default=None, alias="ultraUpscaleStyle"
    )
    similarity: int | None = Field(default=None, ge=1, le=10)
    detail_contrast: int | None = Field(default=None, alias="detailContrast", ge=1, le=10)
    prompt: str | None = Field(default=None, max_length=4000)

    def to_request(self) -> UniversalUpscaleRequest:
        """The SDK always sends its defaults (upscalerStyle GENERAL among them), so an ultra
        style simply takes precedence over the plain one."""
        return UniversalUpscaleRequest(
            generated_image_id=self.generated_image_id,
            init_image_id=self.init_image_id,
            variation_id=self.variation_id,
            multiplier=1.5 if self.upscale_multiplier is None else self.upscale_multiplier,
            creativity=5 if self.creativity_strength is None else self.creativity_strength,
            style=self.upscaler_style,
            ultra_style=self.ultra_upscale_style,
            similarity=self.similarity,
            detail_contrast=self.detail_contrast,
            prompt=self.prompt,
        )


def created_variation(key: str, created: CreatedVariation) -> dict[str, Any]:
    """A job handle under ``key`` (sdUpscaleJob, sdNobgJob, sdUnzoomJob, universalUpscaler)."""
    return {
        key: {
            "id": created.variation_id,
            "apiCreditCost": created.credit_cost,
            "cost": {"amount": str(created.credit_cost), "unit": "CREDITS"},
        }
    }
