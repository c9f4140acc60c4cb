"""``/generations`` request and response shapes (CreateGenerationRequestBody et al.)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from sfumato.api.schemas.common import WireModel
from sfumato.errors import InvalidRequest
from sfumato.service.edits import EditRequest
from sfumato.service.generations import GenerationRequest
from sfumato.service.lora_use import MAX_ADAPTERS, AdapterRequest

Scheduler = Literal[
    "KLMS", "EULER_ANCESTRAL_DISCRETE", "EULER_DISCRETE", "DDIM", "DPM_SOLVER", "PNDM", "LEONARDO"
]
CanvasRequestType = Literal["INPAINT", "OUTPAINT", "SKETCH2IMG", "IMG2IMG"]
PresetStyle = Literal[
    "ANIME", "BOKEH", "CINEMATIC", "CINEMATIC_CLOSEUP", "CREATIVE", "DYNAMIC", "ENVIRONMENT", "FASHION",
    "FILM", "FOOD", "GENERAL", "HDR", "ILLUSTRATION", "LEONARDO", "LONG_EXPOSURE", "MACRO", "MINIMALISTIC",
    "MONOCHROME", "MOODY", "NONE", "NEUTRAL", "PHOTOGRAPHY", "PORTRAIT", "RAYTRACED", "RENDER_3D", "RETRO",
    "SKETCH_BW", "SKETCH_COLOR", "STOCK_PHOTO", "VIBRANT", "UNPROCESSED",
]  # fmt: skip

# Leonardo flags that sfumato accepts and records on the generation but that do not
# change what the open models compute (the README's compatibility table lists them).
RECORDED_FLAGS = (
    "alchemy", "photoReal", "photoRealStrength", "photoRealVersion", "promptMagic", "promptMagicStrength",
    "promptMagicVersion", "highContrast", "highResolution", "contrast", "contrastRatio", "expandedDomain",
    "fantasyAvatar", "ultra", "weighting", "sd_version", "transparency", "enhancePrompt",
    "enhancePromptInstruction", "upscaleRatio",
)  # fmt: skip


class UserElementInput(WireModel):
    """One of the caller's elements: its ``userLoraId`` (a float on the SDK's wire) and weight."""

    user_lora_id: float = Field(alias="userLoraId")
    weight: float = 1.0

    @field_validator("user_lora_id")
    @classmethod
    def _whole(cls, value: float) -> float:
        if value != int(value):
            raise ValueError("must be a whole number")
        return value


class ElementInput(WireModel):
    ak_uuid: str = Field(alias="akUUID", max_length=64)
    weight: float = 1.0


class CreateGenerationBody(WireModel):
    prompt: str = Field(default="A majestic cat in the snow", max_length=4000)
    negative_prompt: str | None = Field(default=None, max_length=4000)
    model_id: str | None = Field(default=None, alias="modelId", max_length=200)
    width: int | None = Field(default=None, ge=32, le=1536)
    height: int | None = Field(default=None, ge=32, le=1536)
    num_images: int = Field(default=4, ge=1, le=8)
    # Leonardo takes 10-60; sfumato lets each model set its range (few-step distilled models
    # draw in 1-8), checked against the catalog in the service.
    num_inference_steps: int | None = Field(default=None, ge=1, le=60)
    guidance_scale: float | None = Field(default=None, ge=1, le=20)
    seed: int | None = Field(default=None, ge=0, le=9_999_999_998)
    scheduler: Scheduler | None = None
    preset_style: PresetStyle | None = Field(default=None, alias="presetStyle")
    tiling: bool | None = None
    public: bool | None = None

    # Accepted and recorded; see RECORDED_FLAGS.
    alchemy: bool | None = None
    photo_real: bool | None = Field(default=None, alias="photoReal")
    photo_real_strength: float | None = Field(default=None, alias="photoRealStrength")
    photo_real_version: str | None = Field(default=None, alias="photoRealVersion")
    prompt_magic: bool | None = Field(default=None, alias="promptMagic")
    prompt_magic_strength: float | None = Field(default=None, alias="promptMagicStrength")
    prompt_magic_version: str | None = Field(default=None, alias="promptMagicVersion")
    high_contrast: bool | None = Field(default=None, alias="highContrast")
    high_resolution: bool | None = Field(default=None, alias="highResolution")
    contrast: float | None = None
    contrast_ratio: float | None = Field(default=None, alias="contrastRatio")
    expanded_domain: bool | None = Field(default=None, alias="expandedDomain")
    fantasy_avatar: bool | None = Field(default=None, alias="fantasyAvatar")
    ultra: bool | None = None
    weighting: float | None = None
    sd_version: str | None = None
    transparency: Literal["disabled", "foreground_only"] | None = None
    enhance_prompt: bool | None = Field(default=None, alias="enhancePrompt")
    enhance_prompt_instruction: str | None = Field(default=None, alias="enhancePromptInstruction")
    upscale_ratio: float | None = Field(default=None, alias="upscaleRatio")

    # Image-to-image and the canvas editor (service/edits.py).
    init_image_id: str | None = Field(default=None, max_length=64)
    init_generation_image_id: str | None = Field(default=None, max_length=64)
    init_strength: float | None = Field(default=None, ge=0.1, le=0.9)
    canvas_request: bool | None = Field(default=None, alias="canvasRequest")
    canvas_request_type: CanvasRequestType | None = Field(default=None, alias="canvasRequestType")
    canvas_init_id: str | None = Field(default=None, alias="canvasInitId", max_length=64)
    canvas_mask_id: str | None = Field(default=None, alias="canvasMaskId", max_length=64)

    # Features that need other pipelines; refused with a clear message until they exist.
    control_net: bool | None = Field(default=None, alias="controlNet")
    controlnets: list[Any] | None = None
    elements: list[ElementInput] | None = Field(default=None, max_length=MAX_ADAPTERS)
    user_elements: list[UserElementInput] | None = Field(
        default=None, alias="userElements", max_length=MAX_ADAPTERS
    )
    image_prompts: list[Any] | None = Field(default=None, alias="imagePrompts")
    unzoom: bool | None = None

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_8(cls, value: int | None) -> int | None:
        if value is not None and value % 8:
            raise ValueError("must be a multiple of 8")
        return value

    def unsupported_features(self) -> list[str]:
        used = {
            "controlNet": self.control_net,
            "controlnets": self.controlnets,
            "imagePrompts": self.image_prompts,
            "unzoom": self.unzoom,
        }
        return [name for name, value in used.items() if value]

    def to_request(self) -> GenerationRequest:
        """The domain request; wire fields with no domain counterpart yet are refused, not dropped."""
        unsupported = self.unsupported_features()
        if unsupported:
            raise InvalidRequest(
                f"Not supported by this server yet: {', '.join(unsupported)} "
                "(see the README's compatibility table)",
                code="unsupported-feature",
            )
        flags = {
            name: value for name, field in _RECORDED_FIELDS if (value := getattr(self, field)) is not None
        }
        return GenerationRequest(
            prompt=self.prompt,
            model_id=self.model_id,
            negative_prompt=self.negative_prompt,
            width=self.width,
            height=self.height,
            num_images=self.num_images,
            steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            seed=self.seed,
            scheduler=self.scheduler,
            preset_style=self.preset_style,
            tiling=bool(self.tiling),
            public=bool(self.public),
            flags=flags,
            edit=self._edit(),
            adapters=self._adapters(),
        )

    def _adapters(self) -> AdapterRequest | None:
        if not self.elements and not self.user_elements:
            return None
        return AdapterRequest(
            user_elements=tuple((int(e.user_lora_id), e.weight) for e in self.user_elements or ()),
            elements=tuple((e.ak_uuid, e.weight) for e in self.elements or ()),
        )

    def _edit(self) -> EditRequest | None:
        """The picture the generation starts from, if any field names one."""
        edit = EditRequest(
            init_image_id=self.init_image_id,
            init_generated_image_id=self.init_generation_image_id,
            init_strength=self.init_strength,
            canvas=bool(self.canvas_request),
            canvas_type=self.canvas_request_type,
            canvas_init_id=self.canvas_init_id,
            canvas_mask_id=self.canvas_mask_id,
        )
        return None if edit == EditRequest() else edit


def created_job(generation_id: str, credit_cost: int) -> dict[str, Any]:
    return {
        "sdGenerationJob": {
            "generationId": generation_id,
            "apiCreditCost": credit_cost,
            "cost": {"amount": str(credit_cost), "unit": "CREDITS"},
        }
    }


# (wire name, attribute) of each recorded flag.
_RECORDED_FIELDS = tuple(
    (field.alias or name, name)
    for name, field in CreateGenerationBody.model_fields.items()
    if (field.alias or name) in RECORDED_FLAGS
)
assert len(_RECORDED_FIELDS) == len(RECORDED_FLAGS)
