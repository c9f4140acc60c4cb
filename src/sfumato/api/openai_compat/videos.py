"""``/v1/videos``: OpenAI's Videos API over sfumato's clips (the video generations of the
Leonardo surface: the same jobs, prices, limits and webhooks).

A clip is created from the multipart form the SDK sends (``prompt``, ``model``, ``seconds``,
``size``, ``input_reference``), read back as OpenAI's ``Video`` object, listed with a cursor,
downloaded (the MP4, or its poster as ``thumbnail``) and deleted. OpenAI's video model names
(``sora-2`` …) stand for catalog models by configuration (``SFUMATO_OPENAI_VIDEO_MODELS``);
sfumato's own keys work too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from sfumato.api.deps import ContextDep, PrincipalDep
from sfumato.api.openai_compat import forms
from sfumato.api.openai_compat.exceptions import InvalidParam
from sfumato.api.openai_compat.schemas import parse_size
from sfumato.engine import report
from sfumato.engine.catalog import VIDEO_FAMILIES, ModelEntry
from sfumato.errors import InvalidRequest
from sfumato.service import data_urls, generations, uploads, videos
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.views import GenerationView

router = APIRouter(tags=["OpenAI compatibility"])
DEFAULT_MODEL, DEFAULT_SECONDS = "sora-2", "4"  # OpenAI's defaults
FILES = ("input_reference",)
_AFTER_DENOISING = (report.DECODING, report.ENCODING, report.UPLOADING)


class VideoForm(BaseModel):
    """``POST /v1/videos`` less its picture (the SDK's ``VideoCreateParams``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    prompt: str
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    image_url: str | None = Field(default=None, alias="input_reference[image_url]")
    file_id: str | None = Field(default=None, alias="input_reference[file_id]")
    # sfumato's own, through extra_body.
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    negative_prompt: str | None = None


@router.post("/videos")
async def create_video(request: Request, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    form, picture = await _read(request)
    name = form.model or DEFAULT_MODEL
    entry = _model(ctx, name)
    width, height = parse_size(form.size)
    reference = await asyncio.to_thread(_reference, ctx, principal, form, picture)
    clip = videos.VideoRequest(
        prompt=form.prompt,
        motion_model=entry.key,
        negative_prompt=form.negative_prompt,
        duration=_seconds(form.seconds),
        width=width,
        height=height,
        seed=form.seed,
        image=reference,
    )
    created = await asyncio.to_thread(videos.create_video, ctx, principal, clip)
    view = await asyncio.to_thread(videos.get_video, ctx, principal, created.generation_id)
    return video_object(ctx, view)


@router.get("/videos")
def list_videos(
    ctx: ContextDep,
    principal: PrincipalDep,
    after: str | None = None,
    limit: int = Query(default=20),
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    views, more = videos.list_videos(ctx, principal, after=after, limit=limit, newest_first=order == "desc")
    data = [video_object(ctx, view) for view in views]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": more,
    }


@router.get("/videos/{video_id}")
def retrieve_video(video_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    return video_object(ctx, videos.get_video(ctx, principal, video_id))


@router.get("/videos/{video_id}/content")
def download_video(
    video_id: str,
    ctx: ContextDep,
    principal: PrincipalDep,
    variant: Literal["video", "thumbnail", "spritesheet"] = "video",
) -> Response:
    if variant == "spritesheet":
        raise InvalidParam("variant 'spritesheet' is not offered: 'video' or 'thumbnail'", param="variant")
    poster = variant == "thumbnail"
    data = videos.video_bytes(ctx, principal, video_id, poster=poster)
    return Response(data, media_type="image/png" if poster else "video/mp4")


@router.delete("/videos/{video_id}")
def delete_video(video_id: str, ctx: ContextDep, principal: PrincipalDep) -> dict[str, Any]:
    videos.get_video(ctx, principal, video_id)
    generations.delete_generation(ctx, principal, video_id)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


async def _read(request: Request) -> tuple[VideoForm, bytes | None]:
    """The request's fields and its picture: the SDK's multipart form, or a JSON body whose
    ``input_reference`` is an object (``{"image_url": …}``)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await request.json()
        except ValueError:
            raise InvalidRequest("Malformed JSON body", code="invalid-json") from None
        if not isinstance(data, dict):
            raise InvalidRequest("The body must be a JSON object")
        reference = data.pop("input_reference", None)
        if isinstance(reference, dict):
            data.update({f"input_reference[{key}]": value for key, value in reference.items()})
        elif reference is not None:
            raise InvalidParam(
                'input_reference in a JSON body is an object, {"image_url": "data:…"}; send a file as a form',
                param="input_reference",
            )
        return forms.validated(VideoForm, data), None
    form, files = await forms.read(request, VideoForm, files=FILES)
    return form, forms.one(files, "input_reference", required=False)


def video_object(ctx: Context, view: GenerationView) -> dict[str, Any]:
    """OpenAI's ``Video`` for a clip."""
    status = _status(view)
    failed = status == "failed"
    return {
        "id": view.id,
        "object": "video",
        "model": _model_name(ctx, view.model_key),
        "status": status,
        "progress": _progress(view, status),
        "created_at": _seconds_of(view.created_at),
        "completed_at": _seconds_of(view.updated_at) if status in ("completed", "failed") else None,
        "expires_at": None,
        "prompt": view.prompt,
        "seconds": _duration(view),
        "size": f"{view.width}x{view.height}",
        "remixed_from_video_id": None,
        "error": {"code": "video_generation_failed", "message": view.failure_reason or "unknown"}
        if failed
        else None,
    }


def _model(ctx: Context, name: str) -> ModelEntry:
    entry = ctx.catalog.resolve(ctx.settings.openai_video_models.get(name, name))
    if entry is None or entry.family not in VIDEO_FAMILIES or entry.family == "svd":
        raise InvalidParam(
            f"The model {name!r} does not exist: GET /v1/models lists the video models",
            param="model",
            code="model_not_found",
        )
    return entry


def _model_name(ctx: Context, key: str | None) -> str:
    """The name a clip's model goes by here: its OpenAI alias if it has one, else its key."""
    aliases = [name for name, target in ctx.settings.openai_video_models.items() if target == key]
    return aliases[0] if aliases else key or ""


def _seconds(seconds: str | None) -> int:
    text = seconds or DEFAULT_SECONDS
    if not text.isdigit() or int(text) < 1:
        raise InvalidParam(f"Invalid seconds {text!r}: a whole number of seconds, e.g. '4'", param="seconds")
    return int(text)


def _reference(
    ctx: Context, principal: Principal, form: VideoForm, picture: bytes | None
) -> videos.PictureRef | None:
    """The clip's first frame, from the form's file or a data URL (``input_reference``)."""
    if form.file_id is not None:
        raise InvalidParam(
            "input_reference file_id is not offered: send the picture itself or a data URL",
            param="input_reference",
            code="unsupported",
        )
    if picture is None and form.image_url is not None:
        settings = ctx.settings
        try:
            image = data_urls.decode(
                form.image_url,
                field="input_reference",
                max_bytes=settings.upload_max_bytes,
                max_pixels=settings.upload_max_pixels,
            )
        except InvalidRequest as exc:
            raise InvalidParam(exc.message, param="input_reference") from None
        picture = data_urls.png_bytes(image)
    if picture is None:
        return None
    return videos.PictureRef(id=uploads.add_init_image(ctx, principal, picture, what="input_reference"),
                             source="UPLOADED")  # fmt: skip


def _status(view: GenerationView) -> str:
    if view.status == "COMPLETE":
        return "completed"
    if view.status == "FAILED":
        return "failed"
    return "in_progress" if view.progress is not None else "queued"


def _progress(view: GenerationView, status: str) -> int:
    """Percent done: the denoising steps taken, 99 once it is decoded and written, 100 when done."""
    if status in ("completed", "failed"):
        return 100
    progress = view.progress
    if progress is None:
        return 0
    if progress.stage in _AFTER_DENOISING:
        return 99
    return min(99, 100 * progress.step // progress.total) if progress.total else 0


def _duration(view: GenerationView) -> str:
    asked = view.flags.get("duration")
    if asked is None and view.images and view.images[0].video is not None:
        asked = view.images[0].video.duration_seconds
    return str(round(float(asked or 0)))


def _seconds_of(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())  # rows hold naive UTC
