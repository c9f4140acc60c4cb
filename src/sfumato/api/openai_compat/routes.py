"""``/v1/images/*`` and ``/v1/models``: parse OpenAI's request, call sfumato's service, wait
for the job, answer in OpenAI's shape."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.openai_compat import forms, pictures, streaming, usage, videos
from sfumato.api.openai_compat import models as model_list
from sfumato.api.openai_compat.exceptions import InvalidParam
from sfumato.api.openai_compat.schemas import (
    ImageGenerateBody,
    encode,
    generation_request,
    images_response,
    model_entry,
    parse_size,
    response_format,
)
from sfumato.config import Settings
from sfumato.engine import in_context
from sfumato.errors import NotFound
from sfumato.service import generation_waits, generations
from sfumato.service.context import Context
from sfumato.service.generations import GenerationRequest
from sfumato.service.keys import Principal
from sfumato.service.views import GenerationView

router = APIRouter(tags=["OpenAI compatibility"])
router.include_router(videos.router)
Answer = dict[str, Any] | StreamingResponse
# What a variation draws when the request says nothing of it (OpenAI's takes no prompt);
# ``prompt`` through extra_body replaces it.
VARIATION_PROMPT = "a high quality, detailed picture"


def body_limits(settings: Settings) -> dict[str, int]:
    """The multipart routes' largest bodies: the form's fields plus their pictures (an edit's
    picture, its references and a mask)."""
    pictures = 2 + in_context.MAX_REFERENCES
    return {
        "/images/edits": settings.max_json_body_bytes + pictures * settings.upload_max_bytes,
        "/images/variations": settings.max_json_body_bytes + settings.upload_max_bytes,
        "/videos": settings.max_json_body_bytes + settings.upload_max_bytes,
    }


@router.post("/images/generations", response_model=None)
async def create_image(body: ImageGenerateBody, ctx: ContextDep, principal: PrincipalDep) -> Answer:
    body.check()
    entry = model_entry(ctx.settings, ctx.catalog, body.model)
    return await _answer(ctx, principal, body, generation_request(body, entry), stream="image_generation")


@router.post("/images/edits", response_model=None)
async def edit_image(request: Request, ctx: ContextDep, principal: PrincipalDep) -> Answer:
    body, files = await forms.read(request, forms.ImageEditForm)
    body.check()
    entry = model_entry(ctx.settings, ctx.catalog, body.model)
    images = forms.all_of(files, "image")
    mask = forms.one(files, "mask", required=False)
    edit = await asyncio.to_thread(
        pictures.edit_request, ctx, principal, images, mask, strength=body.strength
    )
    generation = replace(generation_request(body, entry), edit=edit)
    return await _answer(ctx, principal, body, generation, input_pictures=len(images), stream="image_edit")


@router.post("/images/variations", response_model=None)
async def create_variation(request: Request, ctx: ContextDep, principal: PrincipalDep) -> Answer:
    form, files = await forms.read(request, forms.ImageVariationForm)
    entry = model_entry(ctx.settings, ctx.catalog, form.model)
    picture = forms.one(files, "image", required=True)
    assert picture is not None
    strength = form.strength
    edit = await asyncio.to_thread(pictures.variation_request, ctx, principal, picture, strength=strength)
    width, height = parse_size(form.size)
    generation = GenerationRequest(
        prompt=form.prompt or VARIATION_PROMPT,
        model_id=entry.key,
        negative_prompt=form.negative_prompt,
        width=width,
        height=height,
        num_images=form.n or 1,
        steps=form.steps,
        guidance_scale=form.guidance,
        seed=form.seed,
        edit=edit,
    )
    body = ImageGenerateBody(prompt=generation.prompt, model=form.model, response_format=form.response_format)
    return await _answer(ctx, principal, body, generation, input_pictures=1)


async def _answer(
    ctx: Context,
    principal: Principal,
    body: ImageGenerateBody,
    request: GenerationRequest,
    *,
    input_pictures: int = 0,
    stream: str | None = None,
) -> Answer:
    """Submit the generation, wait for it, and answer with its pictures as asked (and the
    ``usage`` of a run shown ``input_pictures`` pictures); with ``stream=True``, as the
    ``stream`` prefix's server-sent events instead."""
    if body.stream and stream is not None:
        previews = body.partial_images or 0
        created = await generations.submit_generation(ctx, principal, replace(request, previews=previews))
        events = streaming.Stream.asked(body, prefix=stream, input_pictures=input_pictures)
        return streaming.response(ctx, principal, created.generation_id, events)
    output_format = body.output_format or "png"
    fmt = response_format(body.response_format, body.model)
    if fmt == "url" and output_format != "png":
        raise InvalidParam(
            f"output_format {output_format!r} comes with response_format 'b64_json'", param="output_format"
        )
    created = await generations.submit_generation(ctx, principal, request)
    view = await _finished(ctx, principal, created.generation_id)
    inline = None
    if fmt == "b64_json":
        stored = await asyncio.to_thread(generations.image_bytes, ctx, principal, view.id)
        inline = [encode(p, output_format, body.output_compression) for p in stored]
    return images_response(
        view,
        fmt=fmt,
        pictures=inline,
        output_format=output_format,
        quality=body.quality,
        background=body.background,
        usage=usage.usage(view, input_pictures=input_pictures),
    )


async def _finished(ctx: Context, principal: Principal, generation_id: str) -> GenerationView:
    timeout = ctx.settings.openai_timeout_seconds
    view = await generation_waits.await_generation(ctx, principal, generation_id, timeout=timeout)
    if view.status == "FAILED":
        raise streaming.failure(view)
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
