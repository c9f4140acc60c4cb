"""Motion request and response shapes: text-to-video, image-to-video, SVD motion, video upscale."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from sfumato.api.schemas.common import WireModel
from sfumato.errors import InvalidRequest
from sfumato.service.videos import PictureRef, VideoRequest

MotionModel = Literal["MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5"]
Resolution = Literal["RESOLUTION_480", "RESOLUTION_720", "RESOLUTION_1080"]
ImageType = Literal["GENERATED", "UPLOADED"]
# Leonardo flags accepted and recorded on the generation that do not change what the open
# models compute (frame interpolation is not run: the clip has the model's own frame rate).
RECORDED_FLAGS = ("promptEnhance", "promptEnhanceInstruction", "frameInterpolation")


class ElementInput(WireModel):
    ak_uuid: str = Field(alias="akUUID", max_length=64)
    weight: float | None = None


class EndFrameImage(WireModel):
    id: str = Field(max_length=64)
    type: ImageType


class _VideoBody(WireModel):
    prompt: str = Field(max_length=4000)
    negative_prompt: str | None = Field(default=None, alias="negativePrompt", max_length=4000)
    duration: int | None = Field(default=None, ge=1, le=60)
    width: int | None = Field(default=None, ge=8, le=4096)
    height: int | None = Field(default=None, ge=8, le=4096)
    resolution: Resolution | None = None
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    model: MotionModel | None = None
    is_public: bool | None = Field(default=None, alias="isPublic")
    prompt_enhance: bool | None = Field(default=None, alias="promptEnhance")
    prompt_enhance_instruction: str | None = Field(
        default=None, alias="promptEnhanceInstruction", max_length=1000
    )
    frame_interpolation: bool | None = Field(default=None, alias="frameInterpolation")
    style_ids: list[str] | None = Field(default=None, alias="styleIds", max_length=20)
    elements: list[ElementInput] | None = Field(default=None, max_length=20)

    def _request(self, **pictures: PictureRef | None) -> VideoRequest:
        unsupported = [
            name for name, value in (("styleIds", self.style_ids), ("elements", self.elements)) if value
        ]
        if unsupported:
            raise InvalidRequest(
                f"Not supported by this server yet: {', '.join(unsupported)} "
                "(see the README's video section)",
                code="unsupported-feature",
            )
        wire = self.model_dump(by_alias=True)
        return VideoRequest(
            prompt=self.prompt,
            motion_model=self.model,
            negative_prompt=self.negative_prompt,
            duration=self.duration,
            width=self.width,
            height=self.height,
            resolution=self.resolution,
            seed=self.seed,
            public=bool(self.is_public),
            flags={name: wire[name] for name in RECORDED_FLAGS if wire.get(name) is not None},
            **pictures,  # type: ignore[arg-type]
        )


class TextToVideoBody(_VideoBody):
    def to_request(self) -> VideoRequest:
        return self._request()


class ImageToVideoBody(_VideoBody):
    image_id: str = Field(alias="imageId", max_length=64)
    image_type: ImageType = Field(alias="imageType")
    end_frame_image: EndFrameImage | None = Field(default=None, alias="endFrameImage")

    def to_request(self) -> VideoRequest:
        end = self.end_frame_image
        return self._request(
            image=PictureRef(self.image_id, self.image_type),
            end_image=PictureRef(end.id, end.type) if end is not None else None,
        )


class SvdMotionBody(WireModel):
    image_id: str = Field(alias="imageId", max_length=64)
    is_init_image: bool | None = Field(default=None, alias="isInitImage")
    is_variation: bool | None = Field(default=None, alias="isVariation")
    is_public: bool | None = Field(default=None, alias="isPublic")
    motion_strength: int | None = Field(default=None, alias="motionStrength", ge=1, le=10)

    def to_request(self) -> VideoRequest:
        if self.is_init_image and self.is_variation:
            raise InvalidRequest("give isInitImage or isVariation, not both")
        source = "UPLOADED" if self.is_init_image else "VARIATION" if self.is_variation else "GENERATED"
        return VideoRequest(
            image=PictureRef(self.image_id, source),
            svd=True,
            motion_strength=self.motion_strength,
            public=bool(self.is_public),
        )


class VideoUpscaleBody(WireModel):
    source_generation_id: str = Field(alias="sourceGenerationId", max_length=64)
    resolution: Literal["RESOLUTION_720"]


def created_motion_job(wrapper: str, generation_id: str, credit_cost: int, **extra: str) -> dict[str, Any]:
    return {
        wrapper: {
            "generationId": generation_id,
            "apiCreditCost": credit_cost,
            "cost": {"amount": str(credit_cost), "unit": "CREDITS"},
            **extra,
        }
    }
