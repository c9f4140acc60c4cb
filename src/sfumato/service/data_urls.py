"""``data:`` URLs, the realtime canvas's way of carrying pictures inside JSON.

Incoming ones are decoded exactly like uploads (``service.images``): real decoding, a byte
limit and a pixel limit checked before decompression. Outgoing pictures are PNG, lossless,
so a canvas that round-trips keeps its pixels.
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from PIL import Image

from sfumato.errors import InvalidRequest
from sfumato.service.images import decode_image

# data:[<media type>][;<parameter>=<value>]*;base64,<payload>
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,(?P<data>.*)$", re.S)


def decode(url: str, *, field: str, max_bytes: int, max_pixels: int) -> Image.Image:
    """The picture in a ``data:image/…;base64,…`` URL (RGB, or RGBA when it has transparency)."""
    match = _DATA_URL.match(url.strip())
    if match is None:
        raise InvalidRequest(f"{field} must be a base64 data URL such as data:image/png;base64,iVBOR…")
    payload = "".join(match["data"].split())  # line breaks are allowed; str.split is the fast way
    if len(payload) > max_bytes * 4 // 3 + 4:
        raise InvalidRequest(f"{field} holds more than {max_bytes} bytes")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest(f"{field} is not valid base64") from None
    return decode_image(data, max_bytes=max_bytes, max_pixels=max_pixels, what=field).image


def png_bytes(image: Image.Image, *, compress_level: int = 6) -> bytes:
    """``image`` as PNG; a low ``compress_level`` (1) trades size for speed, for short-lived files."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def encode_png(data: bytes) -> str:
    """A ``data:image/png;base64,…`` URL of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
