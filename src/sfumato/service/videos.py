"""Video use-cases: text-to-video, image-to-video and SVD motion, as generations.

A clip is a generation like any other (one output: the poster with the video beside it), so
it is read, listed, deleted, de-duplicated and webhooked with the generations. What is new
here is how a request becomes a clip:

* the **model**: Leonardo's motion model names (MOTION2, VEO3 …) are catalog aliases
  (``SFUMATO_MODEL_ALIASES`` remaps them); SVD motion runs ``SFUMATO_SVD_MODEL``;
* the **size**: ``width``/``height`` as given, else ``resolution`` (its short side, the long
  side by the model's or the picture's aspect), else the model's default (or the picture's
  aspect within the model's default pixel count), in multiples of the family's step;
* the **frames**: ``duration`` seconds at the model's frame rate, plus the first frame,
  rounded up to the family's count (8·k + 1 for LTX-Video, 4·k + 1 for Wan); SVD draws the
  model's own count;
* the **pictures**: the first (and last) frame, an uploaded or generated image of the
  caller's, decoded within limits, cropped to the clip's aspect and stored under the
  generation's own keys before the job is queued (the lineage keeps their ids and hashes).

Guardrails (longest clip, most frames, largest side) refuse before anything is charged.
"""

from __future__ import annotations

import io
import logging
import math
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps
from sqlalchemy import Table

from sfumato.engine.catalog import FRAME_STEP, VIDEO_FAMILIES, ModelEntry
from sfumato.errors import Conflict, InvalidRequest, NotFound
from sfumato.jobs.kinds import video
from sfumato.observability.logs import bind
from sfumato.service import admission, availability, dedupe, edits, generations, guardrails, images, prompts
from sfumato.service.context import Context
from sfumato.service.generations import CreatedGeneration
from sfumato.service.keys import Principal
from sfumato.service.uploads import read_init_image
from sfumato.service.views import GenerationView
from sfumato.store import credits
from sfumato.store import generations as repo
from sfumato.store.intake import Submission
from sfumato.store.models import GeneratedImage, Generation, Variation, new_id

log = logging.getLogger(__name__)
GENERATIONS: Table = Generation.__table__  # type: ignore[assignment]
DEFAULT_MOTION_MODEL = "MOTION2"
DEFAULT_DURATION = 5  # seconds, when a request names none (the SDK sends its own default)
RESOLUTIONS = {"RESOLUTION_480": 480, "RESOLUTION_720": 720, "RESOLUTION_1080": 1080}
VEO3_MODELS = ("VEO3", "VEO3FAST")  # priced as VEO3_MOTION_VIDEO_GENERATION
SVD = "SVD"  # the motion model a generation of /generations-motion-svd records
DEFAULT_MOTION_STRENGTH = 5
_MAX_SEED = 2**31


@dataclass(frozen=True)
class PictureRef:
    """A picture a request names: an uploaded init image, a generated image, or a variation's."""

    id: str
    source: str  # "UPLOADED" | "GENERATED" | "VARIATION"


@dataclass(frozen=True)
class VideoRequest:
    """A clip in sfumato's words; ``None`` means "the model's default"."""

    prompt: str = ""
    motion_model: str | None = None  # a Leonardo motion model name or a catalog key
    negative_prompt: str | None = None
    duration: int | None = None
    width: int | None = None
    height: int | None = None
    resolution: str | None = None
    seed: int | None = None
    image: PictureRef | None = None
    end_image: PictureRef | None = None
    svd: bool = False  # /generations-motion-svd: the SVD model, motion from ``motion_strength``
    motion_strength: int | None = None
    public: bool = False
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Picture:
    ref: PictureRef
    image: Image.Image  # RGB, not yet fitted to the clip
    sha256: str


@dataclass(frozen=True)
class VideoPlan:
    principal: Principal
    request: VideoRequest
    entry: ModelEntry
    motion_model: str
    payload: video.VideoPayload  # less the stored pictures' keys
    first: _Picture | None
    end: _Picture | None
    cost: int
    duration: float
    generation_id: str = field(default_factory=new_id)


def create_video(ctx: Context, principal: Principal, request: VideoRequest) -> CreatedGeneration:
    """Validate, price, charge and queue a clip; a duplicate of a recent seeded request returns
    that generation uncharged."""
    plan = _plan(ctx, principal, request)
    with _stored_pictures(ctx, plan) as keys:
        outcome = admission.admit(ctx, _submission(ctx, plan, keys), "video generation")
    if outcome.subject_id != plan.generation_id:
        edits.discard_inputs(ctx, plan.generation_id)  # a duplicate: the earlier one has its own
    bind(generation_id=outcome.subject_id)
    if outcome.duplicate:
        log.info("duplicate of a recent video; not charged", extra={"model": plan.entry.key})
    else:
        log.info("video queued", extra={"model": plan.entry.key, "cost": plan.cost, "prompt": request.prompt})
    return CreatedGeneration(generation_id=outcome.subject_id, credit_cost=outcome.cost)


def get_video(ctx: Context, principal: Principal, generation_id: str) -> GenerationView:
    """A clip of the caller's (a generation with a motion model); 404 for anything else."""
    view = generations.get_generation(ctx, principal, generation_id)
    if view.motion is None:
        raise NotFound(f"No video with id {generation_id!r}")
    return view


def list_videos(
    ctx: Context, principal: Principal, *, after: str | None, limit: int, newest_first: bool
) -> tuple[list[GenerationView], bool]:
    """The caller's clips past the clip ``after`` (a cursor), and whether more follow."""
    if not 1 <= limit <= 100:
        raise InvalidRequest("limit must be between 1 and 100")
    with ctx.db.read() as session:
        anchor = None
        if after is not None:
            anchor = repo.get_generation(session, after, account_id=principal.account_id)
            if anchor is None or anchor.motion_model is None:
                raise InvalidRequest(f"after: no video with id {after!r}")
        rows = repo.list_videos(
            session, account_id=principal.account_id, after=anchor, limit=limit + 1, newest_first=newest_first
        )
        views = [generations.to_view(ctx, row) for row in rows[:limit]]
    return views, len(rows) > limit


def video_bytes(ctx: Context, principal: Principal, generation_id: str, *, poster: bool = False) -> bytes:
    """A finished clip's MP4 (or its poster, the PNG of its first frame)."""
    view = get_video(ctx, principal, generation_id)
    if view.status != "COMPLETE" or not view.images:
        raise Conflict(f"Video {generation_id} is not finished (its generation is {view.status})")
    with ctx.db.read() as session:
        image = session.get(GeneratedImage, view.images[0].id)
        key = None if image is None else (image.blob_key if poster else image.video_blob_key)
    if key is None:
        raise NotFound(f"Video {generation_id} has no file")
    return ctx.blobs.get(key)


def quote(ctx: Context, motion_model: str, width: int, height: int) -> int:
    """What a clip of this motion model and size costs (the calculator's services, by resolution)."""
    tier = resolution_tier(width, height)
    if motion_model == SVD:
        return ctx.pricing.motion_svd_generation()
    if motion_model in VEO3_MODELS:
        return ctx.pricing.veo3_motion_video_generation(resolution=tier)
    return ctx.pricing.motion_video_generation(resolution=tier)


def resolution_tier(width: int, height: int) -> str:
    """The resolution a size is priced as: the smallest whose short side holds it."""
    short = min(width, height)
    for name, side in RESOLUTIONS.items():
        if short <= side:
            return name
    return "RESOLUTION_1080"


def _plan(ctx: Context, principal: Principal, request: VideoRequest) -> VideoPlan:
    entry, motion_model = video_model(ctx, request)
    if not request.svd and not request.prompt.strip():
        raise InvalidRequest("prompt must not be empty")
    if request.image is None and not entry.text_to_video:
        raise InvalidRequest(f"Model {entry.name!r} ({entry.key}) animates a picture: give imageId")
    if request.image is not None and not entry.image_to_video:
        raise InvalidRequest(
            f"Model {entry.name!r} ({entry.key}) draws from text only; map {motion_model} to a model "
            "that starts from a picture (SFUMATO_MODEL_ALIASES) or use /generations-text-to-video"
        )
    if request.end_image is not None and not entry.end_frame:
        raise InvalidRequest(
            f"endFrameImage: model {entry.name!r} ({entry.key}) cannot be held to a last frame"
        )
    first = _picture(ctx, principal, request.image, "imageId") if request.image else None
    end = _picture(ctx, principal, request.end_image, "endFrameImage.id") if request.end_image else None
    width, height = _size(entry, request, first)
    frames, duration = clip_frames(ctx, entry, request)
    guardrails.check_video_request(
        ctx.settings, width=width, height=height, frames=frames, duration=duration, model=entry.key
    )
    if entry.max_frames and frames > entry.max_frames:
        raise guardrails.LimitExceeded(
            f"{duration:g} s at {entry.fps} fps is {frames} frames; model {entry.key} draws at most "
            f"{entry.max_frames} ({(entry.max_frames - 1) / entry.fps:g} s)"
        )
    seed = request.seed if request.seed is not None else secrets.randbelow(_MAX_SEED)
    text = request.prompt
    if request.flags.get("promptEnhance") and text.strip():
        instruction = request.flags.get("promptEnhanceInstruction")
        text = prompts.improve_text(ctx, text, str(instruction) if instruction else None, video=True).text
    strength = request.motion_strength if request.motion_strength is not None else DEFAULT_MOTION_STRENGTH
    payload = clip_payload(
        entry,
        prompt=text,
        negative_prompt=request.negative_prompt,
        size=(width, height),
        frames=frames,
        seed=seed,
        motion_bucket=motion_bucket(strength) if request.svd else None,
    )
    return VideoPlan(
        principal=principal,
        request=request,
        entry=entry,
        motion_model=motion_model,
        payload=payload,
        first=first,
        end=end,
        cost=quote(ctx, motion_model, width, height),
        duration=duration,
    )


def clip_payload(
    entry: ModelEntry,
    *,
    prompt: str,
    negative_prompt: str | None,
    size: tuple[int, int],
    frames: int,
    seed: int,
    motion_bucket: int | None = None,
) -> video.VideoPayload:
    """A clip of ``entry``'s at its own frame rate, steps and guidance (less its pictures' keys)."""
    return video.VideoPayload(
        model_key=entry.key,
        prompt=prompt,
        negative_prompt=negative_prompt,
        width=size[0],
        height=size[1],
        frames=frames,
        fps=entry.fps,
        steps=entry.default_steps,
        guidance_scale=entry.default_guidance,
        seed=seed,
        motion_bucket=motion_bucket,
    )


def motion_bucket(strength: int) -> int:
    """Leonardo's motion strength (1-10) as SVD's motion bucket (1-255; 5 is SVD's 127)."""
    return max(1, min(255, round(strength * 25.5)))


def video_model(ctx: Context, request: VideoRequest) -> tuple[ModelEntry, str]:
    """The catalog model a request runs and the motion model name it records."""
    if request.svd:
        entry = availability.require_named(ctx, ctx.settings.svd_model, "svd", "SFUMATO_SVD_MODEL")
        return entry, SVD
    name = (request.motion_model or DEFAULT_MOTION_MODEL).strip()
    found = ctx.catalog.resolve(name)
    if found is None:
        raise InvalidRequest(
            f"Motion model {name!r} is not offered by this server: map it to a video model of the "
            f'catalog with SFUMATO_MODEL_ALIASES=\'{{"{name}": "<model key>"}}\' '
            "(`sfumato models list` shows the video models)",
            code=availability.UNAVAILABLE,
        )
    if found.family not in VIDEO_FAMILIES or found.family == "svd":
        raise InvalidRequest(
            f"Motion model {name!r} maps to {found.key}, a {found.family} model, not a text- or "
            "image-to-video model; map it to one with SFUMATO_MODEL_ALIASES"
        )
    return availability.require(ctx, found), name.upper()


def _picture(ctx: Context, principal: Principal, ref: PictureRef, what: str) -> _Picture:
    if ref.source == "UPLOADED":
        decoded = read_init_image(ctx, principal, ref.id, what=what)
    elif ref.source == "VARIATION":
        decoded = _variation_picture(ctx, principal, ref.id, what)
    else:
        decoded = edits.read_generated_image(ctx, principal, ref.id, what=what)
    return _Picture(ref=ref, image=images.flatten(decoded.image), sha256=decoded.sha256)


def _variation_picture(
    ctx: Context, principal: Principal, variation_id: str, what: str
) -> images.DecodedImage:
    with ctx.db.read() as session:
        row = session.get(Variation, variation_id)
        owned = row is not None and row.account_id == principal.account_id
        key = row.blob_key if row is not None and owned and row.status == "COMPLETE" else None
    if key is None:
        raise InvalidRequest(f"{what}: no finished variation with id {variation_id!r}")
    data = ctx.blobs.get(key)
    return images.decode_image(
        data,
        max_bytes=max(ctx.settings.upload_max_bytes, len(data)),
        max_pixels=ctx.settings.upload_max_pixels,
        what=f"{what} {variation_id}",
    )


def _size(entry: ModelEntry, request: VideoRequest, first: _Picture | None) -> tuple[int, int]:
    step = entry.video_size_step
    for name, value in (("width", request.width), ("height", request.height)):
        if value is not None and (value < step or value % step):
            raise InvalidRequest(f"{name} {value} must be a positive multiple of {step} for {entry.name}")
    if first is not None:
        aspect = first.image.width / first.image.height
    else:
        aspect = entry.default_width / entry.default_height
    if request.width and request.height:
        return request.width, request.height
    if request.width or request.height:
        if request.width:
            return request.width, snap(request.width / aspect, step)
        assert request.height is not None
        return snap(request.height * aspect, step), request.height
    if request.resolution is not None:
        short = RESOLUTIONS[request.resolution]
        if aspect >= 1:
            return snap(short * aspect, step), snap(short, step)
        return snap(short, step), snap(short / aspect, step)
    if first is None:
        return entry.default_width, entry.default_height
    budget = entry.default_width * entry.default_height
    height = math.sqrt(budget / aspect)
    return snap(height * aspect, step), snap(height, step)


def snap(value: float, step: int) -> int:
    return max(step, round(value / step) * step)


def clip_frames(ctx: Context, entry: ModelEntry, request: VideoRequest) -> tuple[int, float]:
    """The clip's frame count and its length in seconds."""
    if request.svd:
        frames = entry.default_frames or entry.max_frames
        return frames, frames / entry.fps
    duration = request.duration if request.duration is not None else DEFAULT_DURATION
    if duration < 1:
        raise InvalidRequest("duration must be at least 1 second")
    step = FRAME_STEP[entry.family]
    frames = math.ceil(duration * entry.fps / step) * step + 1
    return frames, float(duration)


@contextmanager
def _stored_pictures(ctx: Context, plan: VideoPlan) -> Iterator[dict[str, str | None]]:
    """Copy the fitted first and end frames under the generation's keys for the block; deleted
    again if the block fails (the generation is never recorded)."""
    keys: dict[str, str | None] = {"image_key": None, "end_image_key": None}
    size = (plan.payload.width, plan.payload.height)
    try:
        for name, field_name, picture in (
            ("init", "image_key", plan.first),
            ("end", "end_image_key", plan.end),
        ):
            if picture is None:
                continue
            fitted = ImageOps.fit(picture.image, size, method=Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            fitted.save(buffer, format="PNG")
            key = edits.input_key(plan.generation_id, name)
            ctx.blobs.put(key, buffer.getvalue(), "image/png")
            keys[field_name] = key
        yield keys
    except BaseException:
        edits.discard_inputs(ctx, plan.generation_id)
        raise


def _submission(ctx: Context, plan: VideoPlan, keys: dict[str, str | None]) -> Submission:
    payload = video.VideoPayload(**{**vars(plan.payload), **keys})
    job = video.KIND.job_row(
        payload, account_id=plan.principal.account_id, max_attempts=ctx.settings.max_attempts
    )
    request, first, end = plan.request, plan.first, plan.end
    flags = dict(request.flags)
    flags["duration"] = plan.duration
    request_hash = dedupe.fingerprint(plan.principal.account_id, request)
    return admission.submission(
        ctx,
        plan.principal,
        cost=plan.cost,
        subject_kind=credits.SubjectKind.GENERATION,
        subject_id=plan.generation_id,
        subject_table=GENERATIONS,
        subject={
            "id": plan.generation_id,
            "account_id": plan.principal.account_id,
            "api_key_id": plan.principal.api_key_id,
            "model_id": plan.entry.id,
            "model_key": plan.entry.key,
            "prompt": payload.prompt,
            "negative_prompt": payload.negative_prompt,
            "width": payload.width,
            "height": payload.height,
            "num_images": 1,
            "steps": payload.steps,
            "guidance_scale": payload.guidance_scale,
            "seed": payload.seed,
            "scheduler": "",  # the model's own (flow matching for LTX-Video and Wan)
            "public": request.public,
            "flags": flags,
            "credit_cost": plan.cost,
            "request_hash": request_hash,
            "motion_model": plan.motion_model,
            "motion_strength": request.motion_strength if request.svd else None,
            "init_image_id": first.ref.id if first and first.ref.source != "GENERATED" else None,
            "init_generated_image_id": first.ref.id if first and first.ref.source == "GENERATED" else None,
            "init_sha256": first.sha256 if first else None,
            "end_frame_image_id": end.ref.id if end else None,
            "end_frame_generated": (end.ref.source == "GENERATED") if end else None,
            "end_frame_sha256": end.sha256 if end else None,
        },
        job=job,
        request_hash=request_hash,
        texts=(payload.prompt, payload.negative_prompt),
    )
