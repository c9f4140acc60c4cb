"""Uploaded images, decoded with suspicion and normalised once.

An upload is whatever bytes a client (or anyone holding its presigned form) sent, so it is
decoded for real by Pillow — never trusted by its extension or declared content type — and
within limits: a byte size, and a pixel count checked from the header *before* the pixels
are decompressed, so a small file that inflates to gigabytes (a decompression bomb) is
refused cheaply. EXIF orientation is applied, because a phone photo's pixels are stored
sideways and the picture the user sees is the rotated one. Every image leaves here as RGB,
or RGBA when it has real transparency, whatever mode it came in.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageOps, ImageStat, UnidentifiedImageError

from sfumato.errors import InvalidRequest

# Pillow format name → the content type it is served as.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_MASK_THRESHOLD = 128  # mask pixels at or above this are repainted; alpha below it is a hole


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB or RGBA, upright
    format: str  # a key of FORMATS, sniffed from the bytes
    sha256: str  # of the bytes as uploaded: the lineage's content hash
    size_bytes: int


def sniff(data: bytes) -> str | None:
    """The format the bytes' signature names, or None for anything but PNG, JPEG and WebP."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, *, max_bytes: int, max_pixels: int, what: str = "the image") -> DecodedImage:
    """Decode ``data`` or raise :class:`InvalidRequest` saying what is wrong with it.

    ``what`` names the image in the messages ("init image 1234…"), because a request may
    carry two (a canvas and its mask).
    """
    if not data:
        raise InvalidRequest(f"{what} is empty")
    if len(data) > max_bytes:
        raise InvalidRequest(f"{what} is {len(data)} bytes; at most {max_bytes} are allowed")
    format_ = sniff(data)
    if format_ is None:
        raise InvalidRequest(f"{what} is not a PNG, JPEG or WebP image")
    try:
        with warnings.catch_warnings():
            # Our own limit below is stricter and says so in words; Pillow's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[format_])
        width, height = opened.size
        if width * height > max_pixels:
            raise InvalidRequest(
                f"{what} is {width}×{height} = {width * height} pixels; at most {max_pixels} are allowed"
            )
        opened.load()
        normalised = _normalise_mode(ImageOps.exif_transpose(opened))
    except Image.DecompressionBombError:
        raise InvalidRequest(f"{what} has more pixels than this server accepts ({max_pixels})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidRequest(f"{what} cannot be decoded as {format_}: {exc}") from None
    return DecodedImage(
        image=normalised,
        format=format_,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
    )


def has_alpha(image: Image.Image) -> bool:
    return image.mode == "RGBA"


def flatten(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """RGB: transparent parts over ``background`` (white, like a page under a cut-out)."""
    if not has_alpha(image):
        return image.convert("RGB")
    base = Image.new("RGBA", image.size, (*background, 255))
    return Image.alpha_composite(base, image).convert("RGB")


def to_mask(image: Image.Image) -> Image.Image:
    """A binary mask ("L": 255 repaint, 0 keep) from a painted mask image.

    White marks what to repaint. A mask drawn as strokes on a transparent layer counts its
    transparent parts as black (keep).
    """
    gray = flatten(image, background=(0, 0, 0)).convert("L")
    return gray.point(lambda v: 255 if v >= _MASK_THRESHOLD else 0)


def canvas_inputs(image: Image.Image, mask: Image.Image | None) -> tuple[Image.Image, Image.Image | None]:
    """The canvas picture (RGB) and the area to repaint, with transparency made explicit.

    A canvas has holes where there is no picture yet (outpainting draws a frame larger than
    the picture, transparent around it): those pixels join the mask, whatever the mask says,
    and are filled with the picture's mean colour so the model starts from a neutral tone
    instead of an arbitrary one.
    """
    if not has_alpha(image):
        return image.convert("RGB"), mask
    holes = image.getchannel("A").point(lambda a: 255 if a < _MASK_THRESHOLD else 0)
    opaque = holes.point(lambda v: 255 - v)
    if opaque.getbbox() is None:
        fill: tuple[int, ...] = (127, 127, 127)
    else:
        fill = tuple(int(v) for v in ImageStat.Stat(image.convert("RGB"), mask=opaque).mean)
    picture = Image.new("RGB", image.size, fill[:3])
    picture.paste(image.convert("RGB"), mask=opaque)
    if holes.getbbox() is None:
        return picture, mask
    return picture, holes if mask is None else ImageChops.lighter(mask.convert("L"), holes)


def covers_anything(mask: Image.Image) -> bool:
    """Whether a binary mask selects at least one pixel."""
    return mask.getbbox() is not None


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGBA if any pixel is not fully opaque, else RGB."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        opaque_everywhere = rgba.getchannel("A").getextrema() == (255, 255)
        return rgba.convert("RGB") if opaque_everywhere else rgba
    return image.convert("RGB")
