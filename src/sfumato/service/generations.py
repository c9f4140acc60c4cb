"""Image generation use-cases: create (validate, price, charge, enqueue), read, list, delete."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sfumato.engine.batching import batch_key
from sfumato.engine.catalog import ModelEntry
from sfumato.errors import InvalidRequest, NotFound
from sfumato.observability.logs import bind
from sfumato.service import dedupe, edits, guardrails, prompts
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.styles import STYLE_TEMPLATES, apply_style
from sfumato.service.variation_views import variation_view
from sfumato.service.views import GenerationView, ImageView
from sfumato.store import credits, queue
from sfumato.store import generations as repo
from sfumato.store.models import Generation, new_id

log = logging.getLogger(__name__)
TEXT_TO_IMAGE = "text_to_image"
MAX_SEED = 9_999_999_998
DEFAULT_SCHEDULER = "EULER_DISCRETE"
SCHEDULERS = {
    "KLMS",
    "EULER_ANCESTRAL_DISCRETE",
    "EULER_DISCRETE",
    "DDIM",
    "DPM_SOLVER",
    "PNDM",
    "LEONARDO",
}


@dataclass(frozen=True)
class GenerationRequest:
    """A text-to-image request in sfumato's own words; ``None`` means "the model's default"."""

    prompt: str
    model_id: str | None = None
    negative_prompt: str | None = None
    width: int | None = None
    height: int | None = None
    num_images: int = 4
    steps: int | None = None
    guidance_scale: float | None = None
    seed: int | None = None
    scheduler: str | None = None
    preset_style: str | None = None
    tiling: bool = False
    public: bool = False
    flags: dict[str, Any] = field(default_factory=dict)
    edit: edits.EditRequest | None = None  # image-to-image and canvas requests


@dataclass(frozen=True)
class CreatedGeneration:
    generation_id: str
    credit_cost: int


def derive_seeds(seed: int, count: int) -> list[int]:
    """Per-image seeds: consecutive from the request's seed, so image i replays alone."""
    return [(seed + i) % (MAX_SEED + 1) for i in range(count)]


def resolve_model(ctx: Context, model_id: str | None, default_key: str | None = None) -> ModelEntry:
    wanted = model_id or default_key
    entry = ctx.catalog.resolve(wanted) if wanted else None
    if entry is None:
        raise InvalidRequest(
            f"Unknown modelId {model_id!r}: GET /platformModels lists the models this server offers"
        )
    if not ctx.catalog.is_ready(entry, ctx.models_dir):
        raise InvalidRequest(
            f"Model {entry.name!r} ({entry.id}) has no weights on this server: "
            + ctx.catalog.how_to_obtain(entry),
            code="model-unavailable",
        )
    return entry


def _validate(request: GenerationRequest, entry: ModelEntry, width: int, height: int, steps: int) -> None:
    if not request.prompt.strip():
        raise InvalidRequest("prompt must not be empty")
    if entry.family == "lcm":
        raise InvalidRequest(
            f"{entry.name} is the realtime canvas's model: use POST /generations-lcm "
            "(and /lcm-instant-refine, /lcm-inpainting, /lcm-upscale)",
            code="unsupported-feature",
        )
    if max(width, height) > 768 and request.num_images > 4:
        raise InvalidRequest("num_images must be between 1 and 4 when width or height is over 768")
    if steps > entry.max_steps:
        raise InvalidRequest(f"num_inference_steps must be at most {entry.max_steps} for {entry.name}")
    if request.scheduler is not None and request.scheduler not in SCHEDULERS:
        raise InvalidRequest(f"Unknown scheduler {request.scheduler!r}")
    if request.preset_style is not None and request.preset_style not in STYLE_TEMPLATES:
        raise InvalidRequest(f"Unknown presetStyle {request.preset_style!r}")


def _enhanced(ctx: Context, request: GenerationRequest) -> str:
    """``enhancePrompt``: the prompt tools' improvement, included in the generation's price."""
    instruction = request.flags.get("enhancePromptInstruction")
    return prompts.improve_text(ctx, request.prompt, str(instruction) if instruction else None).text


def create_generation(ctx: Context, principal: Principal, request: GenerationRequest) -> CreatedGeneration:
    entry = resolve_model(ctx, request.model_id, ctx.settings.default_model_id)
    edit = edits.plan(ctx, principal, request.edit, entry)
    width, height = edits.output_size(edit, entry, request.width, request.height)
    steps = request.steps or entry.default_steps
    guidance = entry.default_guidance if request.guidance_scale is None else request.guidance_scale
    _validate(request, entry, width, height, steps)
    edits.check_steps(edit, steps)
    guardrails.check_image_request(
        ctx.settings, width=width, height=height, num_images=request.num_images, steps=steps
    )
    request_hash = dedupe.fingerprint(principal.account_id, request)
    duplicate = dedupe.recent_duplicate(ctx, principal.account_id, request_hash)
    if duplicate is not None:
        return CreatedGeneration(generation_id=duplicate, credit_cost=0)  # the same pixels, not charged again
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    scheduler = request.scheduler or DEFAULT_SCHEDULER
    cost = ctx.pricing.image_generation(
        family=entry.family, width=width, height=height, steps=steps, num_images=request.num_images
    )
    text = _enhanced(ctx, request) if request.flags.get("enhancePrompt") else request.prompt
    prompt, negative = apply_style(request.preset_style, text, request.negative_prompt)
    spec = {
        "model_key": entry.key,
        "prompt": prompt,
        "negative_prompt": negative,
        "width": width,
        "height": height,
        "steps": steps,
        "guidance_scale": guidance,
        "seeds": derive_seeds(seed, request.num_images),
        "scheduler": scheduler,
        "tiling": request.tiling,
    }
    kind = edit.kind if edit is not None else TEXT_TO_IMAGE
    generation_id = new_id()
    with edits.stored_inputs(ctx, generation_id, edit) as inputs, ctx.db.transaction() as session:
        spec.update(inputs)
        generation = Generation(
            id=generation_id,
            **edits.columns(edit),
            account_id=principal.account_id,
            api_key_id=principal.api_key_id,
            model_id=request.model_id or entry.id,
            model_key=entry.key,
            prompt=text,
            negative_prompt=request.negative_prompt,
            width=width,
            height=height,
            num_images=request.num_images,
            steps=steps,
            guidance_scale=guidance,
            seed=seed,
            scheduler=scheduler,
            preset_style=request.preset_style,
            tiling=request.tiling,
            public=request.public,
            flags=request.flags,
            credit_cost=cost,
            request_hash=request_hash,
        )
        session.add(generation)
        session.flush()
        guardrails.charge(
            session,
            ctx.settings,
            account_id=principal.account_id,
            amount=cost,
            generation_id=generation.id,
            what="generation",
        )
        queue.enqueue(
            session,
            kind=kind,
            account_id=principal.account_id,
            generation_id=generation.id,
            payload=spec,
            max_attempts=ctx.settings.max_attempts,
            model_key=entry.key,
            batch_key=batch_key(kind, spec),
            max_queued=ctx.settings.max_queued_per_account,
        )
        created = CreatedGeneration(generation_id=generation.id, credit_cost=cost)
    ctx.wake_workers()
    bind(generation_id=created.generation_id)
    log.info("generation queued", extra={"kind": kind, "model": entry.key, "cost": cost, "prompt": text})
    return created


def to_view(ctx: Context, generation: Generation) -> GenerationView:
    entry = ctx.catalog.resolve(generation.model_key)
    return GenerationView(
        id=generation.id,
        user_id=generation.account_id,
        status=generation.status,
        model_id=generation.model_id,
        prompt=generation.prompt,
        negative_prompt=generation.negative_prompt,
        width=generation.width,
        height=generation.height,
        num_images=generation.num_images,
        steps=generation.steps,
        guidance_scale=generation.guidance_scale,
        seed=generation.seed,
        scheduler=generation.scheduler,
        preset_style=generation.preset_style,
        sd_version=entry.sd_version if entry else None,
        tiling=generation.tiling,
        public=generation.public,
        flags=dict(generation.flags or {}),
        credit_cost=generation.credit_cost,
        failure_reason=generation.failure_reason,
        created_at=generation.created_at,
        updated_at=generation.updated_at,
        source=edits.source_view(generation),
        images=[
            ImageView(
                id=image.id,
                url=ctx.blobs.url(image.blob_key),
                seed=image.seed,
                width=image.width,
                height=image.height,
                nsfw=image.nsfw,
                variations=[variation_view(ctx, variation) for variation in image.variations],
            )
            for image in generation.images
        ],
    )


def get_generation(ctx: Context, principal: Principal, generation_id: str) -> GenerationView:
    with ctx.db.read() as session:
        generation = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        return to_view(ctx, generation)


def list_generations(
    ctx: Context, principal: Principal, *, user_id: str, offset: int, limit: int
) -> list[GenerationView]:
    if user_id != principal.account_id:
        # Another account's listing is indistinguishable from an empty one.
        return []
    if offset < 0 or not 1 <= limit <= 100:
        raise InvalidRequest("offset must be >= 0 and limit between 1 and 100")
    with ctx.db.read() as session:
        rows = repo.list_generations(session, account_id=principal.account_id, offset=offset, limit=limit)
        return [to_view(ctx, g) for g in rows]


def delete_generation(ctx: Context, principal: Principal, generation_id: str) -> str:
    """Delete a generation, its images and their blobs; a still-queued job is cancelled and refunded."""
    with ctx.db.transaction() as session:
        generation = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        blob_keys = [image.blob_key for image in generation.images] + edits.input_blob_keys(generation)
        blob_keys += [v.blob_key for image in generation.images for v in image.variations if v.blob_key]
        for job in queue.jobs_for_generation(session, generation_id):
            if job.state == queue.QUEUED:
                queue.finish(job, state=queue.CANCELLED, error="generation deleted")
                credits.refund(
                    session,
                    account_id=principal.account_id,
                    generation_id=generation_id,
                    note="deleted before start",
                )
        session.delete(generation)
    for key in blob_keys:
        ctx.blobs.delete(key)
    return generation_id
