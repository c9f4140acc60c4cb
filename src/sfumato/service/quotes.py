"""Price quotes: what a job of each service would charge, before it is asked for.

Each quote fills in omitted parameters exactly as the job would (the model's default
size and steps, four images, the server's default model), then asks the same
``PriceTable`` method the job charges with. That is why a quote equals the charge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sfumato.errors import InvalidRequest
from sfumato.service.context import Context

DEFAULT_NUM_IMAGES = 4  # what POST /generations asks for when num_images is omitted
LCM_DEFAULT_SIZE = 512
UNIVERSAL_UPSCALER_MAX_MEGAPIXELS = 20


def _image_generation(
    ctx: Context,
    *,
    model_id: str | None = None,
    model_flags: Mapping[str, bool | None] | None = None,
    width: int | None = None,
    height: int | None = None,
    steps: int | None = None,
    num_images: int | None = None,
    elements: int = 0,
    controlnets_cost: int = 0,
) -> int:
    if model_id is None:
        # A flag naming a model the catalog has prices that model, as its generations are.
        flagged = ctx.pricing.model_for_flags(model_flags or {})
        if flagged is not None and ctx.catalog.resolve(flagged) is not None:
            model_id = flagged
    family = ctx.pricing.family_for_flags(model_flags or {}) if model_id is None else None
    entry = ctx.catalog.resolve(model_id or ctx.settings.default_model_id)
    if entry is None:
        raise InvalidRequest(
            f"Unknown modelId {model_id!r}: GET /platformModels lists the models this server offers"
        )
    return ctx.pricing.image_generation(
        family=family or entry.family,
        width=width or entry.default_width,
        height=height or entry.default_height,
        steps=steps or entry.default_steps,
        num_images=DEFAULT_NUM_IMAGES if num_images is None else num_images,
        elements=elements,
        controlnets_cost=controlnets_cost,
    )


def _fantasy_avatar_generation(
    ctx: Context, *, width: int | None = None, height: int | None = None, num_images: int | None = None
) -> int:
    entry = ctx.catalog.resolve(ctx.settings.default_model_id)
    return ctx.pricing.fantasy_avatar_generation(
        width=width or (entry.default_width if entry else 1024),
        height=height or (entry.default_height if entry else 768),
        num_images=DEFAULT_NUM_IMAGES if num_images is None else num_images,
    )


def _lcm_generation(
    ctx: Context,
    *,
    width: int | None = None,
    height: int | None = None,
    refine: bool = False,
    instant_refine: bool = False,
) -> int:
    return ctx.pricing.lcm_generation(
        width=width or LCM_DEFAULT_SIZE,
        height=height or LCM_DEFAULT_SIZE,
        refine=refine,
        instant_refine=instant_refine,
    )


def _motion_svd_generation(ctx: Context) -> int:
    return ctx.pricing.motion_svd_generation()


def _motion_video_generation(ctx: Context, *, resolution: str = "RESOLUTION_480") -> int:
    return ctx.pricing.motion_video_generation(resolution=resolution)


def _veo3_motion_video_generation(ctx: Context, *, resolution: str = "RESOLUTION_720") -> int:
    return ctx.pricing.veo3_motion_video_generation(resolution=resolution)


def _model_training(
    ctx: Context, *, resolution: int = 512, dataset_images: int | None = None, flux_dev: bool = False
) -> int:
    if flux_dev and dataset_images is not None and not 1 <= dataset_images <= 50:
        raise InvalidRequest("datasetImageCount must be between 1 and 50")
    return ctx.pricing.model_training(resolution=resolution, dataset_images=dataset_images, flux_dev=flux_dev)


def _texture_generation(ctx: Context, *, preview: bool = False) -> int:
    return ctx.pricing.texture_generation(preview=preview)


def _universal_upscaler(ctx: Context, *, megapixels: float = 1.0) -> int:
    if not 0 < megapixels <= UNIVERSAL_UPSCALER_MAX_MEGAPIXELS:
        raise InvalidRequest(f"megapixel must be between 1 and {UNIVERSAL_UPSCALER_MAX_MEGAPIXELS}")
    return ctx.pricing.universal_upscaler(megapixels=megapixels)


def _universal_upscaler_ultra(
    ctx: Context, *, input_width: int = 1024, input_height: int = 1024, multiplier: float = 1.5
) -> int:
    if not 1.0 <= multiplier <= 2.0:
        raise InvalidRequest("upscaleMultiplier must be between 1.00 and 2.00")
    return ctx.pricing.universal_upscaler_ultra(
        input_width=input_width, input_height=input_height, multiplier=multiplier
    )


QUOTES: dict[str, Callable[..., int]] = {
    "image_generation": _image_generation,
    "fantasy_avatar_generation": _fantasy_avatar_generation,
    "lcm_generation": _lcm_generation,
    "motion_svd_generation": _motion_svd_generation,
    "motion_video_generation": _motion_video_generation,
    "veo3_motion_video_generation": _veo3_motion_video_generation,
    "model_training": _model_training,
    "texture_generation": _texture_generation,
    "universal_upscaler": _universal_upscaler,
    "universal_upscaler_ultra": _universal_upscaler_ultra,
}


def quote(ctx: Context, service: str, params: Mapping[str, Any]) -> int:
    """Credits a job of ``service`` with ``params`` (sfumato's names; omitted = the job's default) costs."""
    handler = QUOTES.get(service)
    if handler is None:
        raise InvalidRequest(f"Unknown service {service!r}")
    return handler(ctx, **params)
