"""The realtime canvas: synchronous LCM requests, served through the queue's realtime lane.

Leonardo's canvas endpoints answer with the picture in the same HTTP response. sfumato
still runs them as jobs — on lane 0, which every worker claims before interactive and batch
work — and the API server waits for the job's row to change. That is what makes them work
the same whether the worker runs in this process or on another machine: the database and
the blob store are the only things the two share.

A request that no worker finishes within ``SFUMATO_REALTIME_TIMEOUT_SECONDS`` is abandoned:
its caller gets a 504 and its credits back, a queued job is cancelled, and a result that
arrives later is thrown away.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from sfumato.engine.catalog import UPSCALER_FAMILY, ModelEntry
from sfumato.engine.lcm import LCM_FAMILY
from sfumato.errors import InvalidRequest, SfumatoError, TimedOut
from sfumato.jobs.kinds import realtime as realtime_kind
from sfumato.service import availability, data_urls, guardrails
from sfumato.service.context import Context
from sfumato.service.generations import resolve_model
from sfumato.service.images import canvas_inputs, covers_anything, flatten, to_mask
from sfumato.service.keys import Principal
from sfumato.service.styles import STYLE_TEMPLATES
from sfumato.store import credits, queue
from sfumato.store import realtime as store
from sfumato.store.clock import utcnow
from sfumato.store.models import RealtimeRequest, new_id

GENERATE, REFINE, INPAINT, UPSCALE = "generate", "refine", "inpaint", "upscale"
OPERATIONS = (GENERATE, REFINE, INPAINT, UPSCALE)
# How far from the canvas each operation goes when the request does not say.
DEFAULT_STRENGTH = {GENERATE: 0.7, REFINE: 0.4, INPAINT: 1.0, UPSCALE: 0.35}
UPSCALE_MULTIPLIER = 2.0  # an alchemy (LCM) upscale doubles width and height
MIN_SIZE, MAX_SIZE = 64, 1024
# Leonardo's LCM styles: the image styles of the same names, plus two of their own.
LCM_STYLES: dict[str, tuple[str, str]] = {
    **STYLE_TEMPLATES,
    "DIGITAL_ART": ("digital art, {prompt}, digital painting, artstation, highly detailed", "photo"),
    "FANTASY_ART": ("fantasy art, {prompt}, magical, epic, ethereal, highly detailed", ""),
}
# Seconds between looks at the request's row when no in-process worker says it changed.
_POLL_FIRST, _POLL_MAX = 0.002, 0.01


@dataclass(frozen=True)
class CanvasRequest:
    """One realtime canvas request in sfumato's words; ``None`` means "the default"."""

    operation: str
    prompt: str
    image_data_url: str
    mask_data_url: str | None = None
    width: int = 512
    height: int = 512
    steps: int | None = None
    guidance: float | None = None
    strength: float | None = None
    seed: int | None = None
    style: str | None = None
    request_timestamp: str | None = None
    refine_creative: bool = False
    refine_strength: float | None = None


@dataclass(frozen=True)
class CanvasResult:
    request_id: str
    image_png: bytes
    request_timestamp: str
    credit_cost: int

    @property
    def image_data_url(self) -> str:
        return data_urls.encode_png(self.image_png)


def run_canvas(ctx: Context, principal: Principal, request: CanvasRequest) -> CanvasResult:
    """Validate, charge, queue on the realtime lane and wait for the picture."""
    entry = realtime_model(ctx)
    payload = _plan(ctx, request, entry)
    inputs = _inputs(ctx, request)
    cost = ctx.pricing.lcm_generation(
        width=request.width,
        height=request.height,
        refine=request.operation == UPSCALE,
        instant_refine=request.operation == REFINE,
    )
    request_id = new_id()
    keys = {role: store.input_key(request_id, role) for role in inputs}
    for role, picture in inputs.items():
        ctx.blobs.put(keys[role], data_urls.png_bytes(picture), "image/png")
    try:
        with ctx.db.transaction() as session:
            session.add(
                RealtimeRequest(
                    id=request_id,
                    account_id=principal.account_id,
                    operation=request.operation,
                    input_keys=keys,
                    credit_cost=cost,
                )
            )
            session.flush()
            guardrails.charge(
                session,
                ctx.settings,
                account_id=principal.account_id,
                amount=cost,
                generation_id=request_id,
                what="realtime request",
            )
            row = realtime_kind.KIND.job_row(
                realtime_kind.RealtimePayload(**payload, request_id=request_id, inputs=keys),
                account_id=principal.account_id,
                max_attempts=ctx.settings.max_attempts,
            )
            job = queue.enqueue(session, **row, max_queued=ctx.settings.max_queued_per_account)
            session.flush()
            job_id = job.id
    except BaseException:
        _delete(ctx, keys.values())
        raise
    ctx.wake_workers()
    timestamp = request.request_timestamp or utcnow().isoformat(timespec="milliseconds")
    try:
        output = _await(ctx, request_id, job_id, principal.account_id)
        image = ctx.blobs.get(output)
        ctx.blobs.delete(output)
    finally:
        _delete(ctx, keys.values())
    return CanvasResult(request_id=request_id, image_png=image, request_timestamp=timestamp, credit_cost=cost)


def realtime_model(ctx: Context) -> ModelEntry:
    """The LCM model this server's canvas runs (SFUMATO_REALTIME_MODEL), ready to load."""
    entry = resolve_model(ctx, ctx.settings.realtime_model)
    if entry.family != LCM_FAMILY:
        raise InvalidRequest(
            f"SFUMATO_REALTIME_MODEL names {entry.key}, which is not a latent consistency (LCM) model",
            code="model-unavailable",
        )
    return entry


def _plan(ctx: Context, request: CanvasRequest, entry: ModelEntry) -> dict[str, Any]:
    """Check the request against the model and fill in defaults: the job's payload."""
    if request.operation not in OPERATIONS:
        raise InvalidRequest(f"unknown canvas operation {request.operation!r}")
    if not request.prompt.strip():
        raise InvalidRequest("prompt must not be empty")
    for name, value in (("width", request.width), ("height", request.height)):
        if not MIN_SIZE <= value <= MAX_SIZE or value % 8:
            raise InvalidRequest(f"{name} must be a multiple of 8 between {MIN_SIZE} and {MAX_SIZE}")
    if request.style is not None and request.style not in LCM_STYLES:
        raise InvalidRequest(f"Unknown style {request.style!r}")
    if (request.operation == INPAINT) != (request.mask_data_url is not None):
        raise InvalidRequest("maskDataUrl is required for inpainting, and only there")
    steps = request.steps or entry.default_steps
    guardrails.check_image_request(
        ctx.settings, width=request.width, height=request.height, num_images=1, steps=steps
    )
    if steps > entry.max_steps:
        raise InvalidRequest(f"steps must be at most {entry.max_steps} for {entry.name}")
    strength = request.strength if request.strength is not None else DEFAULT_STRENGTH[request.operation]
    if request.operation == UPSCALE and request.refine_creative:
        strength = request.refine_strength if request.refine_strength is not None else 0.5
    if int(steps * strength) < 1:
        raise InvalidRequest(
            f"strength {strength} with {steps} steps leaves no step to run: "
            "steps × strength must be at least 1"
        )
    if request.operation == UPSCALE:
        availability.require_named(ctx, ctx.settings.upscaler, UPSCALER_FAMILY, "SFUMATO_UPSCALER")
    return {
        "operation": request.operation,
        "model_key": entry.key,
        "prompt": _styled(request.style, request.prompt),
        "steps": steps,
        "guidance_scale": entry.default_guidance if request.guidance is None else request.guidance,
        "strength": strength,
        "seed": request.seed if request.seed is not None else secrets.randbelow(2**31),
        "upscaler": ctx.settings.upscaler,
        "multiplier": UPSCALE_MULTIPLIER,
    }


def _styled(style: str | None, prompt: str) -> str:
    """The prompt the model sees. LCMs take no negative prompt (guidance is an input of their
    UNet, not a second pass), so only the positive half of a style applies."""
    if style is None:
        return prompt
    template, _negative = LCM_STYLES[style]
    return template.format(prompt=prompt)


def _inputs(ctx: Context, request: CanvasRequest) -> dict[str, Image.Image]:
    """The canvas (RGB, at the requested size) and, for inpainting, its binary mask.

    A canvas with transparent parts is flattened onto white; when inpainting, its holes are
    painted as well, as in the canvas editor of ``POST /generations``.
    """
    limits = {"max_bytes": ctx.settings.upload_max_bytes, "max_pixels": ctx.settings.upload_max_pixels}
    size = (request.width, request.height)
    decoded = _fit(data_urls.decode(request.image_data_url, field="imageDataUrl", **limits), size)
    if request.mask_data_url is None:
        return {"image": flatten(decoded)}
    painted = to_mask(data_urls.decode(request.mask_data_url, field="maskDataUrl", **limits))
    canvas, mask = canvas_inputs(decoded, _fit(painted, size, Image.Resampling.NEAREST))
    assert mask is not None
    if not covers_anything(mask):
        raise InvalidRequest("maskDataUrl selects nothing to repaint: paint the area white on black")
    return {"image": canvas, "mask": mask}


def _fit(
    image: Image.Image, size: tuple[int, int], resample: Image.Resampling = Image.Resampling.LANCZOS
) -> Image.Image:
    return image if image.size == size else image.resize(size, resample)


def _await(ctx: Context, request_id: str, job_id: str, account_id: str) -> str:
    """The output's blob key once a worker records it; raises if it failed or took too long."""
    deadline = time.monotonic() + ctx.settings.realtime_timeout_seconds
    pause = _POLL_FIRST
    while True:
        with ctx.db.read() as session:
            row = store.get(session, request_id)
            assert row is not None
            status, output, reason = row.status, row.output_key, row.failure_reason
        if status == store.PENDING and time.monotonic() >= deadline:
            status, output, reason = _abandon(ctx, request_id, job_id, account_id)
        if status == store.COMPLETE and output is not None:
            return output
        if status == store.FAILED:
            raise SfumatoError(f"The realtime request failed: {reason}")
        if status == store.ABANDONED:
            raise TimedOut(
                f"No worker finished this realtime request within {ctx.settings.realtime_timeout_seconds:g}s "
                "(SFUMATO_REALTIME_TIMEOUT_SECONDS): the workers are busy or none is running. "
                "It was not charged."
            )
        store.wait_for_change(pause)  # at once when the worker is in this process
        pause = min(pause * 1.5, _POLL_MAX)


def _abandon(
    ctx: Context, request_id: str, job_id: str, account_id: str
) -> tuple[str, str | None, str | None]:
    """Give up on a request still pending: refund it and cancel its job if no worker took it."""
    with ctx.db.transaction() as session:
        row = store.get_for_update(session, request_id)
        assert row is not None
        if row.status == store.PENDING:
            reason = f"timed out after {ctx.settings.realtime_timeout_seconds:g}s"
            store.finish(session, row, store.ABANDONED, reason)
            credits.refund(session, account_id=account_id, generation_id=request_id, note=reason)
            store.cancel_if_queued(session, job_id, reason)
        return row.status, row.output_key, row.failure_reason


def _delete(ctx: Context, keys: Iterable[str]) -> None:
    for key in keys:
        ctx.blobs.delete(key)
