"""Image generation use-cases: create (validate, price, charge, enqueue), read, list, delete."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table

from sfumato.blobs import BlobNotFound
from sfumato.engine import families
from sfumato.engine.catalog import ModelEntry
from sfumato.errors import InvalidRequest, NotFound
from sfumato.jobs.kinds import editing, text_to_image
from sfumato.observability.logs import bind
from sfumato.service import admission, availability, dedupe, edits, guardrails, lora_use, prompts
from sfumato.service.context import Context
from sfumato.service.generation_views import generation_view
from sfumato.service.keys import Principal
from sfumato.service.styles import STYLE_TEMPLATES, apply_style
from sfumato.service.views import GenerationView
from sfumato.store import blueprints, credits, intake, progress, queue
from sfumato.store import generations as repo
from sfumato.store.models import Generation, new_id
from sfumato.store.progress import Standing

log = logging.getLogger(__name__)
GENERATIONS: Table = Generation.__table__  # type: ignore[assignment]
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
    adapters: lora_use.AdapterRequest | None = None  # elements (a custom model comes as model_id)
    previews: int = 0  # partial pictures decoded while it runs, for a client that streams them


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
    if not entry.generates_images:
        raise InvalidRequest(
            f"Unknown modelId {model_id!r}: {entry.key} is a {entry.family} model, not an "
            "image-generation model; GET /platformModels lists those"
        )
    return availability.require(ctx, entry)


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
    refusal = families.refusal(
        entry.family,
        width=width,
        height=height,
        guidance_scale=request.guidance_scale,
        negative_prompt=request.negative_prompt,
        scheduler=request.scheduler,
        tiling=request.tiling,
    )
    if refusal is not None:
        raise InvalidRequest(refusal, code="unsupported-feature")


def _enhanced(ctx: Context, request: GenerationRequest) -> str:
    """``enhancePrompt``: the prompt tools' improvement, included in the generation's price."""
    instruction = request.flags.get("enhancePromptInstruction")
    return prompts.improve_text(ctx, request.prompt, str(instruction) if instruction else None).text


@dataclass(frozen=True)
class Plan:
    """A validated, priced request: everything but the rows' final payload and the write."""

    principal: Principal
    request: GenerationRequest
    entry: ModelEntry
    edit: edits.EditPlan | None
    text: str  # the prompt as recorded (after enhancePrompt)
    spec: text_to_image.TextToImagePayload  # the job's payload, less the edit's stored inputs
    seed: int
    cost: int
    request_hash: str | None
    generation_id: str = field(default_factory=new_id)
    replay_of: str | None = None  # the generation a replay re-runs

    @property
    def kind(self) -> str:
        return self.edit.kind if self.edit is not None else text_to_image.NAME

    def submission(self, ctx: Context, inputs: dict[str, Any]) -> intake.Submission:
        request, entry, spec = self.request, self.entry, self.spec
        max_attempts = ctx.settings.max_attempts
        if self.edit is None:
            job = text_to_image.KIND.job_row(
                spec, account_id=self.principal.account_id, max_attempts=max_attempts
            )
        else:
            kind = editing.INPAINT_KIND if self.edit.kind == editing.INPAINT else editing.IMAGE_TO_IMAGE_KIND
            payload = editing.EditPayload(**vars(spec), **inputs)
            job = kind.job_row(payload, account_id=self.principal.account_id, max_attempts=max_attempts)
        return admission.submission(
            ctx,
            self.principal,
            cost=self.cost,
            subject_kind=credits.SubjectKind.GENERATION,
            subject_id=self.generation_id,
            subject_table=GENERATIONS,
            subject={
                "id": self.generation_id,
                **edits.columns(self.edit),
                "account_id": self.principal.account_id,
                "api_key_id": self.principal.api_key_id,
                "model_id": request.model_id or entry.id,
                "model_key": entry.key,
                "prompt": self.text,
                "negative_prompt": request.negative_prompt,
                "width": spec.width,
                "height": spec.height,
                "num_images": request.num_images,
                "steps": spec.steps,
                "guidance_scale": spec.guidance_scale,
                "seed": self.seed,
                "scheduler": spec.scheduler or "",  # "": the model's own (flow-matching) sampler
                "preset_style": request.preset_style,
                "tiling": request.tiling,
                "public": request.public,
                "flags": request.flags,
                "credit_cost": self.cost,
                "request_hash": self.request_hash,
                "replay_of": self.replay_of,
            },
            job=job,
            request_hash=self.request_hash,
            texts=(request.prompt, self.text, request.negative_prompt),
        )


def plan_generation(ctx: Context, principal: Principal, request: GenerationRequest) -> Plan:
    loras = None
    if lora_use.needs_lookup(ctx, request.model_id, request.adapters):
        loras = lora_use.plan(ctx, principal, request.model_id, request.adapters)
    base = loras.base_model_key if loras is not None else None
    entry = resolve_model(ctx, base or request.model_id, ctx.settings.default_model_id)
    if loras is not None:
        lora_use.check_base(loras, entry.key)
        if request.edit is not None and loras.refs:
            raise InvalidRequest(
                "custom models and elements apply to text-to-image only", code="unsupported-feature"
            )
    edit = edits.plan(ctx, principal, request.edit, entry)
    width, height = edits.output_size(edit, entry, request.width, request.height)
    steps = request.steps or entry.default_steps
    guidance = entry.default_guidance if request.guidance_scale is None else request.guidance_scale
    _validate(request, entry, width, height, steps)
    edits.check_steps(edit, steps)
    guardrails.check_image_request(
        ctx.settings, width=width, height=height, num_images=request.num_images, steps=steps
    )
    seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
    traits = families.traits(entry.family)
    # Flow-matching families sample with their own scheduler (None: the model's own).
    scheduler = (request.scheduler or DEFAULT_SCHEDULER) if traits.leonardo_schedulers else None
    cost = ctx.pricing.image_generation(
        family=entry.family, width=width, height=height, steps=steps, num_images=request.num_images
    )
    text = _enhanced(ctx, request) if request.flags.get("enhancePrompt") else request.prompt
    prompt, negative = apply_style(request.preset_style, text, request.negative_prompt)
    if not traits.negative_prompt:
        negative = None  # a style's negative words: such a model has no negative pass to give them
    spec = text_to_image.TextToImagePayload(
        model_key=entry.key,
        prompt=prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        steps=steps,
        guidance_scale=guidance,
        seeds=tuple(derive_seeds(seed, request.num_images)),
        scheduler=scheduler,
        tiling=request.tiling,
        adapters=loras.refs if loras is not None else (),
        previews=request.previews,
    )
    return Plan(
        principal=principal,
        request=request,
        entry=entry,
        edit=edit,
        text=text,
        spec=spec,
        seed=seed,
        cost=cost,
        request_hash=dedupe.fingerprint(principal.account_id, request),
    )


def _plans_in_thread(request: GenerationRequest) -> bool:
    """Whether planning blocks: edits read their source images; enhancePrompt runs a language model."""
    return (request.edit is not None and request.edit != edits.EditRequest()) or bool(
        request.flags.get("enhancePrompt")
    )


async def submit_generation(
    ctx: Context, principal: Principal, request: GenerationRequest
) -> CreatedGeneration:
    """:func:`create_generation` for the event loop: a plain text-to-image request is planned
    in place and recorded by the intake without occupying a thread while it waits."""
    if _plans_in_thread(request) or lora_use.needs_lookup(ctx, request.model_id, request.adapters):
        return await asyncio.to_thread(create_generation, ctx, principal, request)
    plan = plan_generation(ctx, principal, request)
    return _created(plan, await admission.admit_async(ctx, plan.submission(ctx, {}), "generation"))


def create_generation(ctx: Context, principal: Principal, request: GenerationRequest) -> CreatedGeneration:
    """Validate, price, charge and queue a generation; a duplicate of a recent seeded request
    returns that generation uncharged."""
    return record(ctx, plan_generation(ctx, principal, request))


def record(ctx: Context, plan: Plan) -> CreatedGeneration:
    """Store the plan's input pictures and submit its rows (blocking until they commit)."""
    with edits.stored_inputs(ctx, plan.generation_id, plan.edit) as inputs:
        # A refusal raises here, and the stored inputs go.
        created = _created(plan, admission.admit(ctx, plan.submission(ctx, inputs), "generation"))
    if created.generation_id != plan.generation_id:
        edits.discard_inputs(ctx, plan.generation_id)  # a duplicate: the earlier one has its own
    return created


def _created(plan: Plan, outcome: admission.Accepted) -> CreatedGeneration:
    bind(generation_id=outcome.subject_id)
    if outcome.duplicate:
        log.info("duplicate of a recent generation; not charged", extra={"model": plan.entry.key})
    else:
        log.info(
            "generation queued",
            extra={"kind": plan.kind, "model": plan.entry.key, "cost": plan.cost, "prompt": plan.text},
        )
    return CreatedGeneration(generation_id=outcome.subject_id, credit_cost=outcome.cost)


def to_view(ctx: Context, generation: Generation, standing: Standing | None = None) -> GenerationView:
    return generation_view(generation, catalog=ctx.catalog, blobs=ctx.blobs, standing=standing)


def get_generation(ctx: Context, principal: Principal, generation_id: str) -> GenerationView:
    """The generation; while pending, with its job's queue position or progress."""
    with ctx.db.read() as session:
        generation = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        pending = generation.status == "PENDING"
        return to_view(ctx, generation, progress.of_generation(session, generation_id) if pending else None)


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
        blob_keys += [image.video_blob_key for image in generation.images if image.video_blob_key]
        blob_keys += [v.blob_key for image in generation.images for v in image.variations if v.blob_key]
        blob_keys += progress.previews_of_generation(session, generation_id)
        for job in queue.jobs_for_generation(session, generation_id):
            if job.state == queue.QUEUED:
                queue.finish(job, state=queue.CANCELLED, error="generation deleted")
                credits.refund(
                    session,
                    account_id=principal.account_id,
                    subject_id=generation_id,
                    note="deleted before start",
                )
                blueprints.step_abandoned(session, generation_id)  # a blueprint's step: its run ends
        session.delete(generation)
    for key in blob_keys:
        ctx.blobs.delete(key)
    return generation_id


def preview_bytes(ctx: Context, principal: Principal, generation_id: str, *, after: int = 0) -> list[bytes]:
    """The generation's preview pictures (PNG) past the first ``after``, in order: those its
    newest attempt decoded while running, for a client that streams them. A failed attempt's
    previews are deleted with its other outputs: those are skipped."""
    with ctx.db.read() as session:
        generation = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        keys = progress.previews_of_generation(session, generation_id)[after:]
    found = []
    for key in keys:
        with contextlib.suppress(BlobNotFound):
            found.append(ctx.blobs.get(key))
    return found


def image_bytes(ctx: Context, principal: Principal, generation_id: str) -> list[bytes]:
    """The generation's stored pictures, in order (for answers that carry them inline)."""
    with ctx.db.read() as session:
        generation = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        keys = [image.blob_key for image in sorted(generation.images, key=lambda i: i.position)]
    return [ctx.blobs.get(key) for key in keys]
