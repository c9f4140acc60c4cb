"""OpenAI's Images API request bodies and answers, translated to and from sfumato's words.

The fields sfumato adds (``seed``, ``negative_prompt``, ``steps``, ``guidance``) arrive
through the SDK's ``extra_body``, beside OpenAI's own.
"""

from __future__ import annotations

import base64
import io
import re
from datetime import UTC
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from sfumato.api.openai_compat.exceptions import InvalidParam
from sfumato.config import Settings
from sfumato.engine.catalog import Catalog, ModelEntry
from sfumato.service.generations import MAX_SEED, GenerationRequest
from sfumato.service.views import GenerationView

Quality = Literal["low", "medium", "high", "xhigh", "max", "auto", "standard", "hd"]
OutputFormat = Literal["png", "jpeg", "webp"]
_SIZE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
DEFAULT_MODEL = "dall-e-2"  # what OpenAI runs when a request names no model


class ImageGenerateBody(BaseModel):
    """``POST /v1/images/generations`` (the SDK's ``ImageGenerateParams``)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str
    model: str | None = None
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = None
    quality: Quality | None = None
    response_format: Literal["url", "b64_json"] | None = None
    output_format: OutputFormat | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100)
    background: Literal["transparent", "opaque", "auto"] | None = None
    style: Literal["vivid", "natural"] | None = None
    moderation: Literal["low", "auto"] | None = None
    user: str | None = None
    safety_identifier: str | None = None
    stream: bool | None = None
    partial_images: int | None = Field(default=None, ge=0, le=3)
    # sfumato's own, through extra_body.
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    negative_prompt: str | None = None
    steps: int | None = Field(default=None, ge=1)
    guidance: float | None = Field(default=None, ge=0)

    def check(self) -> None:
        """What the schema cannot say: features this server does not offer."""
        if self.background == "transparent":
            raise InvalidParam(
                "background 'transparent' is not supported: the models draw opaque pictures",
                param="background",
                code="unsupported",
            )


def catalog_key(settings: Settings, model: str | None) -> str:
    """The catalog model an OpenAI model name (or sfumato's own key or id) stands for."""
    name = model or DEFAULT_MODEL
    return settings.openai_models.get(name, name)


def model_entry(settings: Settings, catalog: Catalog, model: str | None) -> ModelEntry:
    entry = catalog.resolve(catalog_key(settings, model))
    if entry is None or not entry.generates_images:
        raise InvalidParam(
            f"The model {model or DEFAULT_MODEL!r} does not exist: GET /v1/models lists the models",
            param="model",
            code="model_not_found",
        )
    return entry


def parse_size(size: str | None) -> tuple[int | None, int | None]:
    """``WxH`` as (width, height); ``auto`` or none as the model's own size."""
    if size is None or size == "auto":
        return None, None
    match = _SIZE.match(size)
    if match is None:
        raise InvalidParam(f"Invalid size {size!r}: 'auto' or WIDTHxHEIGHT, e.g. '1024x1024'", param="size")
    return int(match[1]), int(match[2])


def steps_for(quality: Quality | None, entry: ModelEntry) -> int | None:
    """The denoising steps a quality asks of ``entry`` (None: the model's default)."""
    if quality in (None, "auto", "standard", "medium"):
        return None
    if quality == "low":
        return max(1, entry.default_steps // 2)
    if quality in ("high", "hd"):
        return min(entry.max_steps, max(entry.default_steps + 1, entry.default_steps * 3 // 2))
    return entry.max_steps  # xhigh, max


def generation_request(body: ImageGenerateBody, entry: ModelEntry) -> GenerationRequest:
    width, height = parse_size(body.size)
    return GenerationRequest(
        prompt=body.prompt,
        model_id=entry.key,
        negative_prompt=body.negative_prompt,
        width=width,
        height=height,
        num_images=body.n or 1,
        steps=body.steps if body.steps is not None else steps_for(body.quality, entry),
        guidance_scale=body.guidance,
        seed=body.seed,
    )


def response_format(requested: str | None, model: str | None) -> str:
    """OpenAI's default: inline pictures for its GPT image models, links for the rest."""
    if requested is not None:
        return requested
    return "b64_json" if (model or "").startswith("gpt-image") else "url"


def encode(png: bytes, output_format: str, compression: int | None) -> bytes:
    """A stored PNG in the asked format (``compression`` 0-100, OpenAI's: 100 is least lossy)."""
    if output_format == "png":
        return png
    with Image.open(io.BytesIO(png)) as picture:
        out = io.BytesIO()
        quality = 100 - (compression if compression is not None else 10)
        picture.convert("RGB").save(out, format=_PIL_FORMATS[output_format], quality=max(1, quality))
        return out.getvalue()


def images_response(
    view: GenerationView,
    *,
    fmt: str,
    pictures: list[bytes] | None,
    output_format: str,
    quality: str | None,
    background: str | None,
    usage: dict[str, Any],
) -> dict[str, Any]:
    """OpenAI's ``ImagesResponse`` for a finished generation."""
    if fmt == "b64_json":
        assert pictures is not None
        data = [{"b64_json": base64.b64encode(p).decode("ascii"), "revised_prompt": None} for p in pictures]
    else:
        data = [{"url": image.url, "revised_prompt": None} for image in view.images]
    answer: dict[str, Any] = {
        "created": int(view.created_at.replace(tzinfo=UTC).timestamp()),  # rows hold naive UTC
        "data": data,
        "output_format": output_format,
        "size": f"{view.width}x{view.height}",
        "usage": usage,
    }
    if quality in ("low", "medium", "high", "xhigh", "max"):
        answer["quality"] = quality
    if background == "opaque":
        answer["background"] = "opaque"
    return answer
