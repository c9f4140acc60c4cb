"""The realtime canvas: synchronous LCM requests, served through the queue's realtime lane.

Leonardo's canvas endpoints answer with the picture in the same HTTP response. sfumato
still runs them as jobs — on lane 0, which every worker claims before interactive and batch
work — and the API server waits, on its event loop, for the request's row to change: the
``realtime`` commit signal wakes it when the worker ends the request (at once in this
process, by PostgreSQL ``NOTIFY`` from another), and it looks at the row now and then in
case a signal was lost. That is what makes them work the same whether the worker runs in
this process or on another machine: the database and the blob store are the only things
the two share.

When the worker shares this process (the embedded shape) and waits for work, the job is also
*handed* to it in memory (``jobs/hand_off.py``): it is admitted already claimed by that
worker, which then starts on the pictures decoded here and hands the output PNG back before
recording the completion, so the request pays no claim, no wake-up, no blob read and no
output blob. The ledger records exactly what it records for any worker —
the request, its charge, its job and its end. Its input pictures are stored only if its run
fails (by the worker, so the retry finds them) or it must wait in the queue after all.

A request that no worker finishes within ``SFUMATO_REALTIME_TIMEOUT_SECONDS`` is abandoned:
its caller gets a 504 and its credits back, a queued job is cancelled, and a result that
arrives later is thrown away.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

from PIL import Image
from sqlalchemy import Table

from sfumato.engine.catalog import UPSCALER_FAMILY, ModelEntry
from sfumato.engine.lcm import serves_canvas
from sfumato.errors import InvalidRequest, SfumatoError, TimedOut
from sfumato.jobs.hand_off import HandedJob
from sfumato.jobs.kinds import realtime as realtime_kind
from sfumato.service import admission, availability, data_urls, guardrails, policy, upload_safety
from sfumato.service.context import Context
from sfumato.service.generations import resolve_model
from sfumato.service.images import canvas_inputs, covers_anything, flatten, to_mask
from sfumato.service.keys import Principal
from sfumato.service.styles import STYLE_TEMPLATES
from sfumato.store import credits, policies, queue
from sfumato.store import realtime as store
from sfumato.store.clock import utcnow
from sfumato.store.models import RealtimeRequest, new_id

REALTIME_REQUESTS: Table = RealtimeRequest.__table__  # type: ignore[assignment]

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
# Seconds between looks at the request's row, in case its end was not signalled here: a
# worker of another process while this one's listener is not connected (or not allowed).
_POLL_FIRST, _POLL_MAX = 0.005, 0.05
_POLL_HEARING = 1.0  # while other processes' signals are heard: only for a lost one
T = TypeVar("T")
_WHAT = "realtime request"  # what a refusal calls it


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


@dataclass(frozen=True)
class _Submitted:
    request_id: str
    job_id: str
    input_keys: dict[str, str]  # role → blob key
    cost: int
    handed: HandedJob | None = None  # the job handed to this process's worker, if it was


async def run_canvas(
    ctx: Context,
    principal: Principal,
    request: CanvasRequest,
    after_answer: Callable[[Callable[[], None]], None] | None = None,
) -> CanvasResult:
    """Validate, charge, queue on the realtime lane and wait for the picture.

    ``after_answer(cleanup)``, when given, runs ``cleanup`` once the answer is sent (a route's
    background task): a handed job's end is then recorded, and its pictures deleted, after
    the caller has its picture rather than while the answer is being written.
    """
    timestamp = request.request_timestamp or utcnow().isoformat(timespec="milliseconds")
    submitted = await _submit(ctx, principal, request)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ctx.settings.realtime_timeout_seconds
    handed = False
    try:
        image = await _handed_back(ctx, submitted, principal.account_id, deadline)
        if image is None:
            output = await _await(ctx, submitted, principal.account_id, deadline)
            image = await asyncio.to_thread(_take, ctx, output, submitted.input_keys.values())
        else:
            handed = True
    except BaseException:  # here, not in a thread: it must run even if the caller went away
        _delete(ctx, submitted.input_keys.values())
        raise
    finally:
        if not handed:
            _let_go(ctx, submitted)
    if handed:  # its end is recorded after the answer (its pictures were never stored)
        cleanup = partial(_let_go, ctx, submitted)
        if after_answer is not None:
            after_answer(cleanup)
        else:
            loop.run_in_executor(None, cleanup)
    return CanvasResult(
        request_id=submitted.request_id,
        image_png=image,
        request_timestamp=timestamp,
        credit_cost=submitted.cost,
    )


def _let_go(ctx: Context, submitted: _Submitted) -> None:
    """The waiter is done with a hand-off: its worker may record the job's end."""
    if submitted.handed is not None and ctx.hand_offs is not None:
        ctx.hand_offs.withdraw(submitted.job_id)


async def _submit(ctx: Context, principal: Principal, request: CanvasRequest) -> _Submitted:
    """Check the request, store its pictures and write the request, its charge and its job.

    The checks, the decoding and the blob writes run in a thread; the admission is awaited
    on the event loop (on SQLite the intake writes it there, with no hand-off to its thread).
    A job for this process's worker is admitted leased to it or not at all, and handed to it
    once admitted; its pictures are stored only if it must wait in the queue for any worker
    instead (or if its run fails and it is retried: the worker stores them then).
    """
    prepared, admitted, unstored = await asyncio.to_thread(_prepare, ctx, principal, request)
    try:
        return await _admit(ctx, prepared, admitted, unstored)
    except BaseException:
        await asyncio.to_thread(_delete, ctx, prepared.input_keys.values())
        raise


async def _admit(
    ctx: Context, prepared: _Submitted, admitted: admission.Submission, unstored: dict[str, Image.Image]
) -> _Submitted:
    """Admit the request; one admitted leased to this process's worker is handed to it, with
    its ``unstored`` pictures. One whose account runs all it may is refused its lease: its
    pictures are stored, and it is admitted to the queue for any worker."""
    try:
        await admission.admit_async(ctx, admitted, _WHAT)
    except admission.NotLeased:
        await asyncio.to_thread(_store, ctx, prepared.input_keys, unstored)
        await admission.admit_async(ctx, replace(admitted, lease=None, lease_only=False), _WHAT)
        return prepared
    if admitted.lease is None or ctx.hand_offs is None:
        return prepared
    assert admitted.job is not None
    handed = ctx.hand_offs.hand(queue.claim_of(admitted.job, admitted.lease), unstored)
    return replace(prepared, handed=handed)


def _prepare(
    ctx: Context, principal: Principal, request: CanvasRequest
) -> tuple[_Submitted, admission.Submission, dict[str, Image.Image]]:
    """Check the request, store its pictures and build its admission.

    When this process's worker waits for work and holds the models, the job is to be admitted
    claimed by that worker and handed to it. Its pictures are not stored then: they are
    returned (role → picture), to be stored only if the job must wait in the queue after all.
    """
    entry = realtime_model(ctx)
    payload = _plan(ctx, request, entry)
    inputs = _inputs(ctx, request)
    upload_safety.check_picture(ctx, principal.account_id, inputs["image"], _WHAT)
    cost = ctx.pricing.lcm_generation(
        width=request.width,
        height=request.height,
        refine=request.operation == UPSCALE,
        instant_refine=request.operation == REFINE,
    )
    request_id = new_id()
    keys = {role: store.input_key(request_id, role) for role in inputs}
    job_payload = realtime_kind.RealtimePayload(**payload, request_id=request_id, inputs=keys)
    submitted = admission.submission(
        ctx,
        principal,
        cost=cost,
        subject_kind=credits.SubjectKind.REALTIME,
        subject_id=request_id,
        subject_table=REALTIME_REQUESTS,
        subject={
            "id": request_id,
            "account_id": principal.account_id,
            "operation": request.operation,
            "input_keys": keys,
            "credit_cost": cost,
        },
        job=realtime_kind.KIND.job_row(
            job_payload, account_id=principal.account_id, max_attempts=ctx.settings.max_attempts
        ),
        keyed=False,  # its answer is not kept to be read again: a retry runs anew
        texts=(request.prompt,),
    )
    job = submitted.job
    assert job is not None
    hand_offs = ctx.hand_offs
    if hand_offs is not None and set(job_payload.models()) <= ctx.local_models() and hand_offs.available():
        lease = queue.Lease(worker_id=hand_offs.worker_id, seconds=hand_offs.lease_seconds)
        submitted = replace(submitted, lease=lease, lease_only=True)
    else:
        _store(ctx, keys, inputs)
        inputs = {}
    prepared = _Submitted(request_id=request_id, job_id=str(job["id"]), input_keys=keys, cost=cost)
    return prepared, submitted, inputs


def _store(ctx: Context, keys: dict[str, str], pictures: dict[str, Image.Image]) -> None:
    """The request's input ``pictures`` (role → picture) under their blob ``keys``; kept only
    until the answer (or a retry) reads them: fast to write matters, not size."""
    for role, picture in pictures.items():
        ctx.blobs.put(keys[role], data_urls.png_bytes(picture, compress_level=1), "image/png")


async def _handed_back(ctx: Context, submitted: _Submitted, account_id: str, deadline: float) -> bytes | None:
    """The output PNG of a job handed to this process's worker; None when it was not handed
    over or its run failed (the row tells the general wait what became of it), or the deadline
    passed and it was abandoned. Its row is leased to this worker: no one else runs it."""
    handed = submitted.handed
    if handed is None:
        return None
    result = asyncio.wrap_future(handed.result)
    remaining = deadline - asyncio.get_running_loop().time()
    with contextlib.suppress(TimeoutError):
        return await asyncio.wait_for(asyncio.shield(result), max(0.0, remaining))
    status, _output, _reason = await asyncio.to_thread(_abandon, ctx, submitted, account_id)
    if status != store.ABANDONED and result.done() and not result.cancelled():
        return result.result()  # it ended just before the deadline
    return None


def _take(ctx: Context, output: str, input_keys: Iterable[str]) -> bytes:
    """The output's bytes; the request's blobs are deleted (the answer carries the picture)."""
    try:
        return ctx.blobs.get(output)
    finally:
        _delete(ctx, [output, *input_keys])


def realtime_model(ctx: Context) -> ModelEntry:
    """The few-step model this server's canvas runs (SFUMATO_REALTIME_MODEL), ready to load."""
    entry = resolve_model(ctx, ctx.settings.realtime_model)
    if not serves_canvas(entry):
        raise InvalidRequest(
            f"SFUMATO_REALTIME_MODEL names {entry.key}, which is not a few-step canvas model "
            "(LCM or SDXL-Lightning)",
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


async def _await(ctx: Context, submitted: _Submitted, account_id: str, deadline: float) -> str:
    """The output's blob key once a worker records it; raises if it failed or took too long
    (``deadline``, on the event loop's clock)."""
    loop = asyncio.get_running_loop()
    timeout = ctx.settings.realtime_timeout_seconds
    pause = _POLL_FIRST
    with ctx.realtime_waits.watching(submitted.request_id) as ended:
        while True:
            ended.clear()  # before the look: an end committed after it sets it again
            status, output, reason = await _off_loop(ctx, _look, ctx, submitted.request_id)
            if status == store.PENDING and loop.time() >= deadline:
                status, output, reason = await asyncio.to_thread(_abandon, ctx, submitted, account_id)
            if status == store.COMPLETE and output is not None:
                return output
            if status == store.FAILED and reason and policies.WITHHELD in reason:
                raise InvalidRequest(
                    f"The realtime request's answer was withheld: {reason}", code=policy.CODE
                )
            if status == store.FAILED:
                raise SfumatoError(f"The realtime request failed: {reason}")
            if status == store.ABANDONED:
                raise TimedOut(
                    f"No worker finished this realtime request within {timeout:g}s "
                    "(SFUMATO_REALTIME_TIMEOUT_SECONDS): the workers are busy or none is running. "
                    "It was not charged."
                )
            recheck = _POLL_HEARING if ctx.realtime_waits.hears_others else pause
            try:
                await asyncio.wait_for(ended.wait(), max(0.0, min(recheck, deadline - loop.time())))
            except TimeoutError:
                pause = min(pause * 2, _POLL_MAX)


async def _off_loop(ctx: Context, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)`` where it costs the event loop least: in place on SQLite (a read there
    is a few dozen microseconds of CPU, less than a thread's hand-off), on a thread on
    PostgreSQL (a network round trip)."""
    if ctx.db.is_sqlite:
        return call(*args)
    return await asyncio.to_thread(call, *args)


def _look(ctx: Context, request_id: str) -> tuple[str, str | None, str | None]:
    with ctx.db.read() as session:
        row = store.get(session, request_id)
        assert row is not None
        return row.status, row.output_key, row.failure_reason


def _abandon(ctx: Context, submitted: _Submitted, account_id: str) -> tuple[str, str | None, str | None]:
    """Give up on a request still pending: refund it and cancel its job if no worker took it."""
    request_id = submitted.request_id
    with ctx.db.transaction() as session:
        row = store.get_for_update(session, request_id)
        assert row is not None
        if row.status == store.PENDING:
            reason = f"timed out after {ctx.settings.realtime_timeout_seconds:g}s"
            store.finish(session, row, store.ABANDONED, reason)
            credits.refund(session, account_id=account_id, subject_id=request_id, note=reason)
            store.cancel_if_queued(session, submitted.job_id, reason)
        return row.status, row.output_key, row.failure_reason


def _delete(ctx: Context, keys: Iterable[str]) -> None:
    for key in keys:
        ctx.blobs.delete(key)
