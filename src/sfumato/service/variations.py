"""Variations: jobs on a picture that already exists — upscale, unzoom, background removal.

A variation starts from a generated image, from another variation (``isVariation``) or, for
the universal upscaler, from an uploaded init image. Like a generation it is validated,
priced, charged and queued in one transaction, runs on a worker, and is read back by id;
it also appears under its generated image in the generation's
``generated_image_variation_generics``.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from sfumato.engine import families, upscale
from sfumato.engine.catalog import SEGMENTER_FAMILY, UPSCALER_FAMILY, ModelEntry
from sfumato.errors import InvalidRequest, NotFound
from sfumato.jobs.kinds import variation as variation_kind
from sfumato.jobs.kinds.variation import Transform
from sfumato.service import admission, availability
from sfumato.service.context import Context
from sfumato.service.generations import resolve_model
from sfumato.service.keys import Principal
from sfumato.service.realtime import realtime_model
from sfumato.service.uploads import init_image_key, read_init_image
from sfumato.service.variation_views import variation_view
from sfumato.service.views import VariationView
from sfumato.store import credits, progress
from sfumato.store import variations as store
from sfumato.store.models import GeneratedImage, Variation, new_id

UPSCALE: Transform = "UPSCALE"
UNZOOM: Transform = "UNZOOM"
NOBG: Transform = "NOBG"
UPSCALE_MULTIPLIER = 2.0  # /variations/upscale doubles width and height
UNZOOM_FACTOR = 1.5  # /variations/unzoom draws a frame around the picture, 1.5 × its size
# The universal upscaler's styles as words for the creative pass.
UPSCALER_STYLES = {
    "GENERAL": "",
    "CINEMATIC": "cinematic film still, dramatic lighting",
    "2D ART & ILLUSTRATION": "2d illustration, clean line art, flat colours",
    "CG ART & GAME ASSETS": "cg art, game asset, 3d render, sharp details",
}
VARIATIONS: Table = Variation.__table__  # type: ignore[assignment]
ULTRA_STYLES = {
    "ARTISTIC": "highly detailed, artistic",
    "REALISTIC": "photorealistic, sharp focus, fine detail",
}


@dataclass(frozen=True)
class UniversalUpscaleRequest:
    """``/variations/universal-upscaler`` in sfumato's words: exactly one source id."""

    generated_image_id: str | None = None
    init_image_id: str | None = None
    variation_id: str | None = None
    multiplier: float = 1.5
    creativity: int = 5
    style: str | None = None
    ultra_style: str | None = None
    similarity: int | None = None
    detail_contrast: int | None = None
    prompt: str | None = None


@dataclass(frozen=True)
class CreatedVariation:
    variation_id: str
    credit_cost: int


@dataclass(frozen=True)
class _Source:
    """The picture a variation starts from, and what the chain it belongs to knows."""

    blob_key: str
    width: int
    height: int
    generated_image_id: str | None = None
    parent_variation_id: str | None = None
    init_image_id: str | None = None
    prompt: str = ""
    model_key: str | None = None
    seed: int | None = None


def create_upscale(ctx: Context, principal: Principal, image_id: str) -> CreatedVariation:
    """Super-resolution of a generated image to twice its width and height."""
    _require_upscaler(ctx)
    with ctx.db.read() as session:
        source = _generated_image(session, principal, image_id)
    _check_output(ctx, source, UPSCALE_MULTIPLIER)
    payload = {"multiplier": UPSCALE_MULTIPLIER, "upscaler": ctx.settings.upscaler}
    cost = ctx.pricing.variation("upscale")
    return _create(ctx, principal, source, UPSCALE, payload, cost)


def create_nobg(ctx: Context, principal: Principal, image_id: str, *, is_variation: bool) -> CreatedVariation:
    """The picture as RGBA, its background made transparent."""
    availability.require_named(ctx, ctx.settings.segmenter, SEGMENTER_FAMILY, "SFUMATO_SEGMENTER")
    with ctx.db.read() as session:
        source = _source(session, principal, image_id, is_variation=is_variation)
    payload = {"segmenter": ctx.settings.segmenter}
    cost = ctx.pricing.variation("nobg")
    return _create(ctx, principal, source, NOBG, payload, cost)


def create_unzoom(
    ctx: Context, principal: Principal, image_id: str, *, is_variation: bool
) -> CreatedVariation:
    """A frame 1.5 × the picture's size, the picture unchanged in its middle, the border painted."""
    with ctx.db.read() as session:
        source = _source(session, principal, image_id, is_variation=is_variation)
    # The model that drew the picture paints its surroundings (through its family's dedicated
    # inpainting checkpoint when one is ready); an uploaded picture's chain has none, so the
    # realtime model does.
    entry = _inpainter(ctx, resolve_model(ctx, source.model_key)) if source.model_key else realtime_model(ctx)
    _check_output(ctx, source, UNZOOM_FACTOR)
    payload = {
        "factor": UNZOOM_FACTOR,
        "model_key": entry.key,
        "prompt": source.prompt,
        "steps": entry.default_steps,
        "guidance_scale": entry.default_guidance,
        "seed": source.seed if source.seed is not None else secrets.randbelow(2**31),
    }
    cost = ctx.pricing.variation("unzoom")
    return _create(ctx, principal, source, UNZOOM, payload, cost)


def create_universal_upscale(
    ctx: Context, principal: Principal, request: UniversalUpscaleRequest
) -> CreatedVariation:
    """Super-resolution to ``multiplier`` × the size, then a creative LCM pass over tiles."""
    ids = {
        "generatedImageId": request.generated_image_id,
        "initImageId": request.init_image_id,
        "variationId": request.variation_id,
    }
    given = [name for name, value in ids.items() if value]
    if len(given) != 1:
        raise InvalidRequest("give exactly one of generatedImageId, initImageId and variationId")
    if request.ultra_style is None and (
        request.similarity is not None or request.detail_contrast is not None
    ):
        raise InvalidRequest("similarity and detailContrast can only be used with ultraUpscaleStyle")
    _require_upscaler(ctx)
    entry = realtime_model(ctx)
    if request.init_image_id:
        source = _init_image(ctx, principal, request.init_image_id)
    else:
        with ctx.db.read() as session:
            image_id = request.generated_image_id or request.variation_id or ""
            source = _source(session, principal, image_id, is_variation=bool(request.variation_id))
    width, height = _check_output(ctx, source, request.multiplier)
    strength = _creative_strength(request)
    words = (
        ULTRA_STYLES[request.ultra_style]
        if request.ultra_style
        else UPSCALER_STYLES[request.style or "GENERAL"]
    )
    prompt = ", ".join(part for part in (request.prompt or source.prompt, words) if part)
    payload = {
        "multiplier": request.multiplier,
        "upscaler": ctx.settings.upscaler,
        "creative": {
            "model_key": entry.key,
            "prompt": prompt,
            "strength": strength,
            # Enough steps that steps × strength reaches one whole step.
            "steps": min(entry.max_steps, max(entry.default_steps, math.ceil(1 / strength))),
            "guidance_scale": entry.default_guidance,
            "seed": source.seed if source.seed is not None else secrets.randbelow(2**31),
        },
        "detail_contrast": request.detail_contrast,
    }
    if request.ultra_style:
        cost = ctx.pricing.universal_upscaler_ultra(
            input_width=source.width, input_height=source.height, multiplier=request.multiplier
        )
    else:
        cost = ctx.pricing.universal_upscaler(megapixels=width * height / 1_000_000)
    # The job is claimed by its first model: the upscaler, which few machines have, rather
    # than the realtime LCM of the creative pass, which workers load at start.
    return _create(ctx, principal, source, UPSCALE, payload, cost)


def get_variation(ctx: Context, principal: Principal, variation_id: str) -> VariationView:
    with ctx.db.read() as session:
        variation = store.get(session, variation_id, account_id=principal.account_id)
        if variation is None:
            raise NotFound(f"No variation with id {variation_id!r}")
        pending = variation.status == store.PENDING
        return variation_view(
            variation, ctx.blobs, progress.of_subject(session, variation_id) if pending else None
        )


def _create(
    ctx: Context,
    principal: Principal,
    source: _Source,
    transform: Transform,
    params: dict[str, Any],
    cost: int,
) -> CreatedVariation:
    """Admit the variation: its row, its charge and its job in one transaction.

    It goes through the same admission as a generation: past the account's queue-depth cap
    or daily budget it is refused (429) and nothing is written. Its first model (the
    upscaler, segmenter or painting model it loads) lets only a worker that can load that
    model claim it, and prefers one that holds it already.
    """
    variation_id = new_id()
    creative = params.get("creative")
    payload = variation_kind.VariationPayload(
        **{**params, "creative": variation_kind.CreativePass(**creative) if creative else None},
        variation_id=variation_id,
        api_key_id=principal.api_key_id,  # whose webhook hears of its end
        transform=transform,
        source_key=source.blob_key,
    )
    submitted = admission.submission(
        ctx,
        principal,
        cost=cost,
        subject_kind=credits.SubjectKind.VARIATION,
        subject_id=variation_id,
        subject_table=VARIATIONS,
        subject={
            "id": variation_id,
            "account_id": principal.account_id,
            "generated_image_id": source.generated_image_id,
            "parent_variation_id": source.parent_variation_id,
            "init_image_id": source.init_image_id,
            "transform": transform,
            "params": params,
            "credit_cost": cost,
        },
        job=variation_kind.KIND.job_row(
            payload, account_id=principal.account_id, max_attempts=ctx.settings.max_attempts
        ),
        texts=((params.get("creative") or {}).get("prompt"),),
    )
    accepted = admission.admit(ctx, submitted, "variation")
    return CreatedVariation(variation_id=accepted.subject_id, credit_cost=accepted.cost)


def _source(session: Session, principal: Principal, image_id: str, *, is_variation: bool) -> _Source:
    if not is_variation:
        return _generated_image(session, principal, image_id)
    variation = store.get(session, image_id, account_id=principal.account_id)
    if variation is None:
        raise NotFound(f"No variation with id {image_id!r}")
    if variation.status != store.COMPLETE or variation.blob_key is None:
        raise InvalidRequest(
            f"Variation {image_id} is {variation.status}; only a COMPLETE one can be a source"
        )
    root = session.get(GeneratedImage, variation.generated_image_id) if variation.generated_image_id else None
    assert variation.width is not None and variation.height is not None
    return _Source(
        blob_key=variation.blob_key,
        width=variation.width,
        height=variation.height,
        generated_image_id=variation.generated_image_id,
        parent_variation_id=variation.id,
        init_image_id=variation.init_image_id,
        prompt=root.generation.prompt if root else "",
        model_key=root.generation.model_key if root else None,
        seed=root.seed if root else None,
    )


def _generated_image(session: Session, principal: Principal, image_id: str) -> _Source:
    image = session.get(GeneratedImage, image_id)
    if image is None or image.generation.account_id != principal.account_id:
        raise NotFound(f"No generated image with id {image_id!r}")
    return _Source(
        blob_key=image.blob_key,
        width=image.width,
        height=image.height,
        generated_image_id=image.id,
        prompt=image.generation.prompt,
        model_key=image.generation.model_key,
        seed=image.seed,
    )


def _init_image(ctx: Context, principal: Principal, image_id: str) -> _Source:
    decoded = read_init_image(ctx, principal, image_id, what="initImageId")
    key = init_image_key(ctx, principal, image_id, what="initImageId")
    width, height = decoded.image.size
    return _Source(blob_key=key, width=width, height=height, init_image_id=image_id)


def _inpainter(ctx: Context, entry: ModelEntry) -> ModelEntry:
    """A ready dedicated inpainting model of ``entry``'s family (tiny for tiny), else ``entry``;
    the realtime model for a family that does not inpaint (Kontext edits by instruction)."""
    if "inpaint" not in families.traits(entry.family).edits:
        return realtime_model(ctx)
    for candidate in ctx.catalog.entries():
        if (
            candidate.inpainting
            and candidate.family == entry.family
            and candidate.is_tiny == entry.is_tiny
            and availability.is_available(ctx, candidate)
        ):
            return candidate
    return entry


def _creative_strength(request: UniversalUpscaleRequest) -> float:
    """How far the creative pass may move from the enlarged picture: 0.1 at creativity 1,
    0.55 at 10; ARTISTIC adds 0.1, and similarity (1-10) scales it from 1.4 down to 0.5."""
    strength = 0.05 + 0.05 * request.creativity
    if request.ultra_style == "ARTISTIC":
        strength += 0.1
    if request.similarity is not None:
        strength *= 1.5 - request.similarity / 10
    return round(min(max(strength, 0.05), 0.9), 4)


def _check_output(ctx: Context, source: _Source, multiplier: float) -> tuple[int, int]:
    width, height = upscale.target_size(source.width, source.height, multiplier)
    if width * height > ctx.settings.upload_max_pixels:
        raise InvalidRequest(
            f"the result would be {width}×{height}, more pixels than this server makes "
            f"({ctx.settings.upload_max_pixels}, SFUMATO_UPLOAD_MAX_PIXELS)"
        )
    return width, height


def _require_upscaler(ctx: Context) -> None:
    availability.require_named(ctx, ctx.settings.upscaler, UPSCALER_FAMILY, "SFUMATO_UPSCALER")
