"""Generations that start from a picture: image-to-image and the canvas editor's flows.

A generation may start from an uploaded init image (``init_image_id``), from an image
sfumato generated (``init_generation_image_id``), or from a canvas: an init image plus a
mask, with a request type (INPAINT, OUTPAINT, SKETCH2IMG, IMG2IMG). This module turns those
ids into checked pictures — the caller's own, decoded within limits — and decides what the
worker runs:

* image-to-image (``init_*`` ids, canvas IMG2IMG and SKETCH2IMG): the picture is re-noised
  by ``1 − init_strength`` (Leonardo's dial: how strongly the output reflects the picture;
  0.5 when not given) and denoised; a canvas mask limits the change to its white area;
* inpainting (canvas INPAINT and OUTPAINT): the mask's white area, plus every transparent
  pixel of the canvas (outpainting's empty frame), is repainted from noise (or re-noised by
  ``1 − init_strength`` when given); everything else is kept pixel for pixel.

The normalised picture and mask are copied under the generation's own blob keys before the
job is queued: a retried job reads the same bytes, and deleting the source image later
changes nothing about the generation, whose lineage keeps the source's id and content hash.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from PIL.Image import Image

from sfumato.blobs import BlobNotFound
from sfumato.engine import families, in_context
from sfumato.engine.catalog import ModelEntry
from sfumato.errors import InvalidRequest
from sfumato.jobs.kinds.editing import IMAGE_TO_IMAGE, INPAINT
from sfumato.service import images
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.service.uploads import read_init_image
from sfumato.store import generations as repo
from sfumato.store.models import Generation

# Leonardo's canvas request types → the job that runs them.
CANVAS_TYPES = {
    "INPAINT": INPAINT,
    "OUTPAINT": INPAINT,
    "SKETCH2IMG": IMAGE_TO_IMAGE,
    "IMG2IMG": IMAGE_TO_IMAGE,
}
DEFAULT_INIT_STRENGTH = 0.5
_SIZE_STEP, _MIN_SIDE, _MAX_SIDE = 8, 32, 1536  # the wire's width/height limits


@dataclass(frozen=True)
class EditRequest:
    """The picture a generation starts from, in sfumato's words (all optional)."""

    init_image_id: str | None = None
    init_generated_image_id: str | None = None
    init_strength: float | None = None
    canvas: bool = False
    canvas_type: str | None = None
    canvas_init_id: str | None = None
    canvas_mask_id: str | None = None
    # Uploaded pictures shown to the model beside the edited one (in context: engine/in_context.py).
    reference_ids: tuple[str, ...] = ()


@dataclass
class EditPlan:
    """A checked edit: what the worker runs on which picture, and what the lineage records."""

    kind: str  # the job kind: IMAGE_TO_IMAGE or INPAINT
    picture: Image  # RGB, upright, transparency resolved
    mask: Image | None  # "L", 255 = may change
    strength: float  # the share of the noise schedule re-run (diffusers' strength)
    columns: dict[str, Any] = field(default_factory=dict)  # lineage columns of the generation
    references: list[Image] = field(default_factory=list)  # RGB, shown beside the picture


def plan(
    ctx: Context, principal: Principal, request: EditRequest | None, entry: ModelEntry
) -> EditPlan | None:
    """The edit a request asks for (None for plain text-to-image), or a 400 saying what is wrong."""
    if request is None or request == EditRequest():
        if entry.inpainting:
            raise InvalidRequest(_inpainting_only(entry))
        return None
    edit = _canvas(ctx, principal, request) if request.canvas else _init_image(ctx, principal, request)
    if request.reference_ids:
        edit = _with_references(ctx, principal, edit, request.reference_ids, entry)
    if entry.inpainting and edit.kind != INPAINT:
        raise InvalidRequest(_inpainting_only(entry))
    if edit.kind == INPAINT and "inpaint" not in families.traits(entry.family).edits:
        raise InvalidRequest(
            f"Model {entry.name!r} edits a picture by instruction (say the change in the prompt, with "
            "init_image_id or canvasRequestType IMG2IMG); it does not inpaint or outpaint",
            code="unsupported-feature",
        )
    if edit.mask is not None and not images.covers_anything(edit.mask):
        raise InvalidRequest("canvasMaskId: the mask selects nothing to repaint (white marks the area)")
    return edit


def output_size(
    edit: EditPlan | None, entry: ModelEntry, width: int | None, height: int | None
) -> tuple[int, int]:
    """The requested size; else, for an edit, the picture's aspect within the model's
    default pixel count (never enlarged), and for text-to-image the model's default."""
    if edit is None:
        return width or entry.default_width, height or entry.default_height
    if width and height:
        return width, height
    picture_width, picture_height = edit.picture.size
    if width or height:
        scale = (width or 0) / picture_width if width else (height or 0) / picture_height
    else:
        budget = entry.default_width * entry.default_height
        scale = min(1.0, math.sqrt(budget / (picture_width * picture_height)))
    step = families.traits(entry.family).size_step
    return width or _side(picture_width * scale, step), height or _side(picture_height * scale, step)


def check_steps(edit: EditPlan | None, steps: int) -> None:
    """An edit re-runs only ``strength`` of the schedule, which must leave at least one step."""
    if edit is not None and int(steps * edit.strength) < 1:
        raise InvalidRequest(
            f"num_inference_steps {steps} × (1 − init_strength) leaves no denoising step; "
            "raise num_inference_steps or lower init_strength"
        )


@contextmanager
def stored_inputs(ctx: Context, generation_id: str, edit: EditPlan | None) -> Iterator[dict[str, Any]]:
    """Copy the picture (and mask) under the generation's keys for the block; yields the job
    payload's additions. If the block fails (the generation is never recorded), the copies
    are deleted again."""
    if edit is None:
        yield {}
        return
    payload: dict[str, Any] = {"strength": edit.strength, "init_blob_key": None, "mask_blob_key": None}
    references = [(_reference_name(position), image) for position, image in enumerate(edit.references, 1)]
    try:
        for name, image in (("init", edit.picture), ("mask", edit.mask), *references):
            if image is None:
                continue
            key = input_key(generation_id, name)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            ctx.blobs.put(key, buffer.getvalue(), "image/png")
            payload[f"{name}_blob_key"] = key
        if references:
            payload["reference_blob_keys"] = tuple(payload.pop(f"{name}_blob_key") for name, _ in references)
        yield payload
    except BaseException:
        discard_inputs(ctx, generation_id)
        raise


def discard_inputs(ctx: Context, generation_id: str) -> None:
    """Delete the copies :func:`stored_inputs` made for a generation that was never recorded."""
    for name in ("init", "mask", "end", *_REFERENCE_NAMES):
        ctx.blobs.delete(input_key(generation_id, name))


def columns(edit: EditPlan | None) -> dict[str, Any]:
    """The generation's lineage columns for ``edit`` (none for text-to-image)."""
    return dict(edit.columns) if edit is not None else {}


def input_key(generation_id: str, name: str) -> str:
    return f"generations/{generation_id}/input/{name}.png"


def input_blob_keys(generation: Generation) -> list[str]:
    """The blobs :func:`store_inputs` wrote for ``generation`` (deleted with it)."""
    keys = [input_key(generation.id, "init")] if generation.init_sha256 else []
    keys += [input_key(generation.id, "end")] if generation.end_frame_sha256 else []
    # References have no column of their own: an edit names every slot (deleting an absent blob is fine).
    keys += [input_key(generation.id, name) for name in _REFERENCE_NAMES] if generation.init_sha256 else []
    return keys + ([input_key(generation.id, "mask")] if generation.mask_sha256 else [])


def _with_references(
    ctx: Context, principal: Principal, edit: EditPlan, reference_ids: tuple[str, ...], entry: ModelEntry
) -> EditPlan:
    """``edit`` with reference pictures beside its picture: an inpainting of the picture's
    repaint area (the mask's, or the whole picture for image-to-image, re-noised by the same
    strength) over an in-context canvas, the references kept around it."""
    if len(reference_ids) > in_context.MAX_REFERENCES:
        raise InvalidRequest(
            f"{len(reference_ids)} reference pictures: at most {in_context.MAX_REFERENCES} go beside "
            "the edited picture"
        )
    if "inpaint" not in families.traits(entry.family).edits:
        raise InvalidRequest(
            f"Model {entry.name!r} takes one picture: reference pictures are placed in context beside "
            "the edited one, which needs a model that inpaints",
            code="unsupported-feature",
        )
    pictures = [
        read_init_image(ctx, principal, image_id, what=f"reference image {position}").image
        for position, image_id in enumerate(reference_ids, start=1)
    ]
    mask = edit.mask
    if mask is None:
        from PIL import Image as PILImage

        mask = PILImage.new("L", edit.picture.size, 255)
    return replace(edit, kind=INPAINT, mask=mask, references=[images.flatten(p) for p in pictures])


def _reference_name(position: int) -> str:
    return f"reference-{position}"


_REFERENCE_NAMES = tuple(_reference_name(p) for p in range(1, in_context.MAX_REFERENCES + 1))


def _init_image(ctx: Context, principal: Principal, request: EditRequest) -> EditPlan:
    if request.canvas_type or request.canvas_init_id or request.canvas_mask_id:
        raise InvalidRequest("canvasRequestType, canvasInitId and canvasMaskId need canvasRequest: true")
    if request.init_image_id and request.init_generated_image_id:
        raise InvalidRequest("give init_image_id or init_generation_image_id, not both")
    if request.init_image_id:
        decoded = read_init_image(ctx, principal, request.init_image_id, what="init_image_id")
    elif request.init_generated_image_id:
        decoded = read_generated_image(
            ctx, principal, request.init_generated_image_id, what="init_generation_image_id"
        )
    else:
        raise InvalidRequest(
            "init_strength needs init_image_id, init_generation_image_id or a canvas request"
        )
    init_strength = DEFAULT_INIT_STRENGTH if request.init_strength is None else request.init_strength
    return EditPlan(
        kind=IMAGE_TO_IMAGE,
        picture=images.flatten(decoded.image),
        mask=None,
        strength=round(1 - init_strength, 6),
        columns={
            "init_image_id": request.init_image_id,
            "init_generated_image_id": request.init_generated_image_id,
            "init_sha256": decoded.sha256,
            "init_strength": init_strength,
        },
    )


def _canvas(ctx: Context, principal: Principal, request: EditRequest) -> EditPlan:
    if request.init_image_id or request.init_generated_image_id:
        raise InvalidRequest("a canvas request takes its picture from canvasInitId, not init_image_id")
    if request.canvas_type not in CANVAS_TYPES:
        raise InvalidRequest(f"canvasRequestType must be one of {', '.join(CANVAS_TYPES)} with canvasRequest")
    if not request.canvas_init_id:
        raise InvalidRequest("canvasInitId is required with canvasRequest: upload it with /canvas-init-image")
    kind = CANVAS_TYPES[request.canvas_type]
    if kind == INPAINT and not request.canvas_mask_id:
        raise InvalidRequest(f"canvasMaskId is required for {request.canvas_type}")
    canvas = read_init_image(ctx, principal, request.canvas_init_id, what="canvasInitId")
    mask = None
    if request.canvas_mask_id:
        mask = read_init_image(ctx, principal, request.canvas_mask_id, what="canvasMaskId", check=False)
        if mask.image.size != canvas.image.size:
            raise InvalidRequest(
                f"canvasMaskId: the mask is {mask.image.width}×{mask.image.height} but the canvas "
                f"image is {canvas.image.width}×{canvas.image.height}; they must match"
            )
    picture, effective_mask = images.canvas_inputs(canvas.image, images.to_mask(mask.image) if mask else None)
    if request.init_strength is not None:
        strength = 1 - request.init_strength
    else:  # inpainting repaints from pure noise unless told to start from what is there
        strength = 1.0 if kind == INPAINT else 1 - DEFAULT_INIT_STRENGTH
    return EditPlan(
        kind=kind,
        picture=picture,
        mask=effective_mask,
        strength=round(strength, 6),
        columns={
            "init_image_id": request.canvas_init_id,
            "init_sha256": canvas.sha256,
            "init_strength": round(1 - strength, 6),
            "mask_image_id": request.canvas_mask_id,
            "mask_sha256": mask.sha256 if mask else None,
            "canvas_type": request.canvas_type,
        },
    )


def read_generated_image(
    ctx: Context, principal: Principal, image_id: str, *, what: str
) -> images.DecodedImage:
    """An image of one of the caller's own generations (a video's poster for a clip), as a
    source picture; ``what`` names the request field in the 400s."""
    with ctx.db.read() as session:
        image = repo.get_image(session, image_id)
        owned = image is not None and image.generation.account_id == principal.account_id
        key = image.blob_key if image is not None and owned else None
    if key is None:
        raise InvalidRequest(f"{what}: no generated image with id {image_id!r}")
    try:
        data = ctx.blobs.get(key)
    except BlobNotFound:
        raise InvalidRequest(f"{what}: image {image_id} has no file") from None
    settings = ctx.settings
    return images.decode_image(
        data,
        max_bytes=max(settings.upload_max_bytes, len(data)),  # our own output: trusted in size
        max_pixels=settings.upload_max_pixels,
        what=f"{what} {image_id}",
    )


def _side(value: float, step: int = _SIZE_STEP) -> int:
    return min(_MAX_SIDE, max(_MIN_SIDE, round(value / step) * step))


def _inpainting_only(entry: ModelEntry) -> str:
    return (
        f"Model {entry.name!r} is an inpainting model: use it with canvasRequest and "
        "canvasRequestType INPAINT or OUTPAINT"
    )
