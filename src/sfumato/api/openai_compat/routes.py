"""``/v1/images/*`` and ``/v1/models``: parse OpenAI's request, call sfumato's service, wait
for the job, answer in OpenAI's shape."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.openai_compat import models as model_list
from sfumato.api.openai_compat.schemas import (
    ImageGenerateBody,
    encode,
    generation_request,
    images_response,
    model_entry,
    response_format,
)
from sfumato.errors import InvalidRequest, NotFound, SfumatoError
from sfumato.service import generation_waits, generations, policy
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.views import GenerationView
from sfumato.store import policies

router = APIRouter(tags=["OpenAI compatibility"])


@router.post("/images/generations")
async def create_image(body: ImageGenerateBody, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    body.check()
    entry = model_entry(ctx.settings, ctx.catalog, body.model)
    fmt = response_format(body.response_format, body.model)
    output_format = body.output_format or "png"
    if fmt == "url" and output_format != "png":
        raise InvalidRequest(f"output_format {output_format!r} comes with response_format 'b64_json'")
    created = await generations.submit_generation(ctx, principal, generation_request(body, entry))
    view = await _finished(ctx, principal, created.generation_id)
    pictures = None
    if fmt == "b64_json":
        stored = await asyncio.to_thread(generations.image_bytes, ctx, principal, view.id)
        pictures = [encode(p, output_format, body.output_compression) for p in stored]
    return images_response(
        view,
        fmt=fmt,
        pictures=pictures,
        output_format=output_format,
        quality=body.quality,
        background=body.background,
    )


async def _finished(ctx: Context, principal: Principal, generation_id: str) -> GenerationView:
    timeout = ctx.settings.openai_timeout_seconds
    view = await generation_waits.await_generation(ctx, principal, generation_id, timeout=timeout)
    if view.status == "FAILED":
        reason = view.failure_reason or "unknown"
        if policies.WITHHELD in reason:
            raise InvalidRequest(f"The picture was withheld: {reason}", code=policy.CODE)
        raise SfumatoError(f"The generation failed: {reason}")
    return view


@router.get("/models")
def list_models(ctx: ContextDep, _principal: PrincipalDep) -> dict[str, Any]:
    return {"object": "list", "data": model_list.models(ctx)}


@router.get("/models/{model}")
def retrieve_model(model: str, ctx: ContextDep, _principal: PrincipalDep) -> dict[str, Any]:
    found = next((m for m in model_list.models(ctx) if m["id"] == model), None)
    if found is None:
        raise NotFound(f"The model {model!r} does not exist", code="model_not_found")
    return found
