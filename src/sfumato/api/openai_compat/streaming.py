"""``stream=True``: an image request answered as server-sent events while it runs.

The generation is queued asking for ``partial_images`` previews; its worker decodes them
from the running latents and writes each as it comes (``worker/progress.py``), which
wakes the wait here. Each new preview goes out as a ``<prefix>.partial_image`` event, and
the end as one ``<prefix>.completed`` event per picture, with ``usage`` split so that the
events add up to the request's: the first carries the input tokens, each its own
picture's output tokens. A failure after the stream began is an ``error`` event in
OpenAI's envelope (the SDK raises it as ``APIError``).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from fastapi.responses import StreamingResponse

from sfumato.api.openai_compat import usage
from sfumato.api.openai_compat.errors import error_body
from sfumato.api.openai_compat.schemas import ImageGenerateBody, encode
from sfumato.errors import InvalidRequest, SfumatoError
from sfumato.service import generation_waits, generations, policy
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.views import GenerationView
from sfumato.store import policies

MEDIA_TYPE = "text/event-stream"


@dataclass(frozen=True)
class Stream:
    """What every event of one answer repeats, and how its pictures are encoded."""

    prefix: str  # "image_generation" or "image_edit"
    output_format: str
    compression: int | None
    quality: str
    background: str
    input_pictures: int

    @classmethod
    def asked(cls, body: ImageGenerateBody, *, prefix: str, input_pictures: int) -> Stream:
        """The stream an image request asks for (OpenAI's events name ``auto`` what it left open)."""
        quality = body.quality if body.quality in ("low", "medium", "high", "xhigh", "max") else "auto"
        return cls(
            prefix=prefix,
            output_format=body.output_format or "png",
            compression=body.output_compression,
            quality=quality,
            background="opaque" if body.background == "opaque" else "auto",
            input_pictures=input_pictures,
        )


def response(ctx: Context, principal: Principal, generation_id: str, stream: Stream) -> StreamingResponse:
    return StreamingResponse(
        _events(ctx, principal, generation_id, stream),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    ctx: Context, principal: Principal, generation_id: str, stream: Stream
) -> AsyncIterator[str]:
    sent = 0
    timeout = ctx.settings.openai_timeout_seconds
    try:
        async for view in generation_waits.follow_generation(ctx, principal, generation_id, timeout=timeout):
            previews = await asyncio.to_thread(
                generations.preview_bytes, ctx, principal, generation_id, after=sent
            )
            for picture in previews:
                yield _event(f"{stream.prefix}.partial_image", {
                    **_common(view, stream, picture), "partial_image_index": sent,
                })  # fmt: skip
                sent += 1
            if view.status == "COMPLETE":
                async for event in _completed(ctx, principal, view, stream):
                    yield event
            elif view.status == "FAILED":
                raise failure(view)
    except SfumatoError as exc:
        _status, body = error_body(exc.status, exc.message, exc.code, param=getattr(exc, "param", None))
        yield _event("error", body)


async def _completed(
    ctx: Context, principal: Principal, view: GenerationView, stream: Stream
) -> AsyncIterator[str]:
    pictures = await asyncio.to_thread(generations.image_bytes, ctx, principal, view.id)
    counted = usage.per_picture(view, input_pictures=stream.input_pictures)
    for picture, used in zip(pictures, counted, strict=True):
        yield _event(f"{stream.prefix}.completed", {**_common(view, stream, picture), "usage": used})


def failure(view: GenerationView) -> SfumatoError:
    """The error a FAILED generation is on this surface: a withheld picture is OpenAI's
    ``content_policy_violation``."""
    reason = view.failure_reason or "unknown"
    if policies.WITHHELD in reason:
        return InvalidRequest(f"The picture was withheld: {reason}", code=policy.CODE)
    return SfumatoError(f"The generation failed: {reason}")


def _common(view: GenerationView, stream: Stream, png: bytes) -> dict[str, Any]:
    picture = encode(png, stream.output_format, stream.compression)
    return {
        "b64_json": base64.b64encode(picture).decode("ascii"),
        "background": stream.background,
        "created_at": int(view.created_at.replace(tzinfo=UTC).timestamp()),  # rows hold naive UTC
        "output_format": stream.output_format,
        "quality": stream.quality,
        "size": f"{view.width}x{view.height}",
    }


def _event(name: str, data: dict[str, Any]) -> str:
    """One server-sent event; its data names its type too, as OpenAI's events do (not errors)."""
    if name != "error":
        data = {"type": name, **data}
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
