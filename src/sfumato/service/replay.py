"""Replay: run a recorded generation again, as a new generation of the same account.

The replay re-runs the original's job payload, which is what the model was given: the
prompt as recorded (styles applied; ``enhancePrompt`` is not run again), the seeds, model,
scheduler, size, steps, guidance and tiling; and, for an edit, the picture and mask the
original stored under its own keys, so a source upload deleted since changes nothing. It is
priced, charged and queued like any generation, is never answered by request
de-duplication, and names the original in ``replay_of``; ``service/replay_report.py`` says
what differs once it has run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import Image

from sfumato.blobs import BlobNotFound
from sfumato.errors import Conflict, NotFound
from sfumato.jobs.kinds.editing import EditPayload
from sfumato.jobs.kinds.text_to_image import TextToImagePayload
from sfumato.jobs.registry import kind_of
from sfumato.service import edits, guardrails
from sfumato.service.context import Context
from sfumato.service.generations import CreatedGeneration, GenerationRequest, Plan, record, resolve_model
from sfumato.service.keys import Principal
from sfumato.store import generations as repo
from sfumato.store.models import Account, Generation

COMPLETE = "COMPLETE"


@dataclass(frozen=True)
class _Recorded:
    """What the original ran with, read out of its rows."""

    request: GenerationRequest
    model_key: str
    kind: str
    payload: TextToImagePayload  # an EditPayload for an edit
    columns: dict[str, Any]  # the source's lineage columns, for an edit


def owner(ctx: Context, generation_id: str) -> Principal:
    """The account (and key) a generation belongs to: the operator's CLI acts as them."""
    with ctx.db.read() as session:
        generation = repo.get_generation(session, generation_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        account = session.get(Account, generation.account_id)
        return Principal(
            account_id=generation.account_id,
            api_key_id=generation.api_key_id or "",
            username=account.username if account is not None else generation.account_id,
        )


def replay_generation(ctx: Context, principal: Principal, generation_id: str) -> CreatedGeneration:
    """Queue a new generation that re-runs ``generation_id`` exactly; 404 for another account's."""
    recorded = _recorded(ctx, principal, generation_id)
    request = recorded.request
    entry = resolve_model(ctx, recorded.model_key)
    payload = recorded.payload
    guardrails.check_image_request(
        ctx.settings,
        width=payload.width,
        height=payload.height,
        num_images=request.num_images,
        steps=payload.steps,
    )
    cost = ctx.pricing.image_generation(
        family=entry.family,
        width=payload.width,
        height=payload.height,
        steps=payload.steps,
        num_images=request.num_images,
    )
    spec = TextToImagePayload(
        **{name: getattr(payload, name) for name in TextToImagePayload.__dataclass_fields__}
    )
    plan = Plan(
        principal=principal,
        request=request,
        entry=entry,
        edit=_edit(ctx, recorded),
        text=request.prompt,
        spec=spec,
        seed=request.seed or 0,
        cost=cost,
        request_hash=None,  # a replay is asked for on purpose: never answered by an earlier one
        replay_of=generation_id,
    )
    return record(ctx, plan)


def _recorded(ctx: Context, principal: Principal, generation_id: str) -> _Recorded:
    with ctx.db.read() as session:
        generation = repo.get_generation(session, generation_id, account_id=principal.account_id)
        if generation is None:
            raise NotFound(f"No generation with id {generation_id!r}")
        if generation.status != COMPLETE:
            raise Conflict(
                f"Generation {generation_id} is {generation.status}: only a COMPLETE generation "
                "can be replayed",
                code="not-replayable",
            )
        job = repo.job_of(session, generation_id)
        if job is None:
            raise Conflict(f"Generation {generation_id} has no recorded job to replay", code="not-replayable")
        kind = kind_of(job.kind)
        if kind is None or not issubclass(kind.payload, TextToImagePayload):
            raise Conflict(f"Generation {generation_id} ran a {job.kind} job, which replays do not run",
                           code="not-replayable")  # fmt: skip
        return _Recorded(
            request=_request(generation),
            model_key=generation.model_key,
            kind=job.kind,
            payload=kind.decode(job.payload),
            columns=_source_columns(generation),
        )


def _request(generation: Generation) -> GenerationRequest:
    return GenerationRequest(
        prompt=generation.prompt,
        model_id=generation.model_id,
        negative_prompt=generation.negative_prompt,
        width=generation.width,
        height=generation.height,
        num_images=generation.num_images,
        steps=generation.steps,
        guidance_scale=generation.guidance_scale,
        seed=generation.seed,
        scheduler=generation.scheduler or None,
        preset_style=generation.preset_style,
        tiling=generation.tiling,
        public=generation.public,
        flags=dict(generation.flags or {}),
    )


def _source_columns(generation: Generation) -> dict[str, Any]:
    if generation.init_sha256 is None:
        return {}
    names = ("init_image_id", "init_generated_image_id", "init_sha256", "init_strength", "mask_image_id",
             "mask_sha256", "canvas_type")  # fmt: skip
    return {name: getattr(generation, name) for name in names}


def _edit(ctx: Context, recorded: _Recorded) -> edits.EditPlan | None:
    """The original's stored picture and mask, to be stored again under the replay's keys."""
    payload = recorded.payload
    if not isinstance(payload, EditPayload):
        return None
    picture = _stored_picture(ctx, payload.init_blob_key)
    mask_key = payload.mask_blob_key
    return edits.EditPlan(
        kind=recorded.kind,
        picture=picture,
        mask=_stored_picture(ctx, mask_key) if mask_key else None,
        strength=payload.strength,
        columns=recorded.columns,
    )


def _stored_picture(ctx: Context, key: str) -> Image.Image:
    try:
        data = ctx.blobs.get(key)
    except BlobNotFound:
        raise Conflict(
            f"The generation's source picture {key} is missing from blob storage: it cannot be replayed",
            code="source-missing",
        ) from None
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture
