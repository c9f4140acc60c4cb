"""The pictures of OpenAI's edits and variations as sfumato's edit requests. OpenAI's mask
convention becomes sfumato's: OpenAI repaints where the mask is
transparent; sfumato's canvas masks are white where the picture may change."""

from __future__ import annotations

import io

from PIL import Image

from sfumato.api.openai_compat.exceptions import InvalidParam
from sfumato.engine import in_context
from sfumato.errors import InvalidRequest
from sfumato.service import uploads
from sfumato.service.context import Context
from sfumato.service.edits import EditRequest
from sfumato.service.images import decode_image, has_alpha
from sfumato.service.keys import Principal

OPAQUE = 128  # alpha at or above this keeps its pixel


def repaint_mask(data: bytes, *, size: tuple[int, int], max_bytes: int, max_pixels: int) -> bytes:
    """A PNG, white where OpenAI's ``mask`` is transparent and black elsewhere."""
    mask = _decoded(data, "mask", max_bytes=max_bytes, max_pixels=max_pixels)
    if not has_alpha(mask):
        raise InvalidParam(
            "mask has no transparent pixels: its transparent area is what the edit changes", param="mask"
        )
    if mask.size != size:
        raise InvalidParam(
            f"mask is {mask.width}x{mask.height} but image is {size[0]}x{size[1]}; they must match",
            param="mask",
        )
    white_is_repaint = mask.getchannel("A").point(lambda a: 0 if a >= OPAQUE else 255)
    out = io.BytesIO()
    white_is_repaint.save(out, format="PNG")
    return out.getvalue()


def edit_request(ctx: Context, principal: Principal, pictures: list[bytes], mask: bytes | None,
                 *, strength: float | None) -> EditRequest:  # fmt: skip
    """The canvas edit an OpenAI edit asks for, its pictures (and mask) kept as init images.

    The first picture is the one edited. With a mask, its transparent area is repainted;
    without one, the picture's own transparent area is (outpainting's holes); a picture
    with neither is redrawn whole, ``strength`` of it (image-to-image). Further pictures are
    references, shown to the model beside the edited one (``engine/in_context.py``).
    """
    limits = {"max_bytes": ctx.settings.upload_max_bytes, "max_pixels": ctx.settings.upload_max_pixels}
    picture, *references = pictures
    if len(references) > in_context.MAX_REFERENCES:
        raise InvalidParam(
            f"{len(pictures)} pictures in image: this server edits the first with at most "
            f"{in_context.MAX_REFERENCES} more beside it as references",
            param="image",
        )
    image = _decoded(picture, "image", **limits)
    for reference in references:
        _decoded(reference, "image", **limits)
    mask_png = repaint_mask(mask, size=image.size, **limits) if mask is not None else None
    canvas_type = "INPAINT" if mask_png else "OUTPAINT" if has_alpha(image) else "IMG2IMG"
    image_id = uploads.add_init_image(ctx, principal, picture, what="image")
    mask_id = uploads.add_init_image(ctx, principal, mask_png, what="mask") if mask_png else None
    reference_ids = tuple(uploads.add_init_image(ctx, principal, r, what="image") for r in references)
    return EditRequest(
        canvas=True,
        canvas_type=canvas_type,
        canvas_init_id=image_id,
        canvas_mask_id=mask_id,
        init_strength=_kept(strength),
        reference_ids=reference_ids,
    )


def variation_request(
    ctx: Context, principal: Principal, picture: bytes, *, strength: float | None
) -> EditRequest:
    """A variation: the picture redrawn, ``strength`` of it (image-to-image)."""
    image_id = uploads.add_init_image(ctx, principal, picture, what="image")
    return EditRequest(init_image_id=image_id, init_strength=_kept(strength))


def _kept(strength: float | None) -> float | None:
    """sfumato's ``init_strength`` (how much of the picture stays) for a ``strength`` (how much changes)."""
    return None if strength is None else round(1 - strength, 6)


def _decoded(data: bytes, field: str, *, max_bytes: int, max_pixels: int) -> Image.Image:
    try:
        return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, what=field).image
    except InvalidRequest as exc:
        raise InvalidParam(exc.message, param=field) from None
