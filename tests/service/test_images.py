"""Decoding uploads: real decoding, limits before decompression, orientation, alpha."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from sfumato.errors import InvalidRequest
from sfumato.service.images import canvas_inputs, covers_anything, decode_image, to_mask

LIMITS = {"max_bytes": 1_000_000, "max_pixels": 1_000_000}


def _encode(image: Image.Image, format_: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format_, **kwargs)
    return buffer.getvalue()


def test_format_is_sniffed_not_taken_from_a_name() -> None:
    for format_ in ("PNG", "JPEG", "WEBP"):
        decoded = decode_image(_encode(Image.new("RGB", (16, 8), (9, 9, 9)), format_), **LIMITS)
        assert decoded.format == format_ and decoded.image.size == (16, 8) and decoded.image.mode == "RGB"
    for other in ("GIF", "BMP", "TIFF"):
        with pytest.raises(InvalidRequest, match="not a PNG, JPEG or WebP"):
            decode_image(_encode(Image.new("RGB", (8, 8)), other), **LIMITS)


def test_exif_orientation_is_applied() -> None:
    picture = Image.new("RGB", (40, 20), (0, 0, 0))
    picture.paste((255, 255, 255), (0, 0, 10, 20))  # a white band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90° clockwise
    decoded = decode_image(_encode(picture, "JPEG", exif=exif, quality=95), **LIMITS)
    assert decoded.image.size == (20, 40)
    pixels = np.asarray(decoded.image.convert("L"))
    assert pixels[:10].mean() > 200 and pixels[-10:].mean() < 50  # the band is now on top


def test_alpha_kept_only_when_real() -> None:
    opaque = decode_image(_encode(Image.new("RGBA", (8, 8), (1, 2, 3, 255)), "PNG"), **LIMITS)
    assert opaque.image.mode == "RGB"
    holes = Image.new("RGBA", (8, 8), (1, 2, 3, 255))
    holes.putpixel((0, 0), (0, 0, 0, 0))
    assert decode_image(_encode(holes, "PNG"), **LIMITS).image.mode == "RGBA"
    palette = Image.new("P", (8, 8), 0)
    palette.info["transparency"] = 0
    assert decode_image(_encode(palette, "PNG", transparency=0), **LIMITS).image.mode == "RGBA"
    for mode in ("L", "1", "I;16"):
        assert decode_image(_encode(Image.new(mode, (8, 8)), "PNG"), **LIMITS).image.mode == "RGB"


def test_limits_are_checked_before_decompressing() -> None:
    bomb = _encode(Image.new("1", (2000, 2000)), "PNG")
    assert len(bomb) < 10_000
    with pytest.raises(InvalidRequest, match="4000000 pixels; at most 1000000"):
        decode_image(bomb, **LIMITS)
    with pytest.raises(InvalidRequest, match="at most 10 are allowed"):
        decode_image(bomb, max_bytes=10, max_pixels=10**8)


def test_broken_files() -> None:
    good = _encode(Image.effect_noise((32, 32), 50).convert("RGB"), "PNG")
    with pytest.raises(InvalidRequest, match="cannot be decoded"):
        decode_image(good[: len(good) // 2], **LIMITS)
    with pytest.raises(InvalidRequest, match="empty"):
        decode_image(b"", **LIMITS)
    decoded = decode_image(good, **LIMITS)
    assert len(decoded.sha256) == 64 and decoded.size_bytes == len(good)


def test_masks_are_binary_and_white_means_repaint() -> None:
    gray = Image.new("L", (4, 1))
    gray.putdata([0, 100, 128, 255])
    assert list(to_mask(gray.convert("RGB")).get_flattened_data()) == [0, 0, 255, 255]
    strokes = Image.new("RGBA", (2, 1), (255, 255, 255, 0))
    strokes.putpixel((1, 0), (255, 255, 255, 255))
    assert list(to_mask(strokes).get_flattened_data()) == [0, 255]  # transparent counts as keep
    assert not covers_anything(to_mask(Image.new("RGB", (4, 4))))


def test_canvas_holes_join_the_mask_and_are_filled() -> None:
    canvas = Image.new("RGBA", (4, 1), (0, 0, 0, 0))
    canvas.putpixel((0, 0), (200, 100, 0, 255))
    canvas.putpixel((1, 0), (100, 50, 0, 255))
    mask = Image.new("L", (4, 1), 0)
    mask.putpixel((1, 0), 255)
    picture, combined = canvas_inputs(canvas, mask)
    assert picture.mode == "RGB"
    assert list(picture.get_flattened_data())[:2] == [(200, 100, 0), (100, 50, 0)]
    assert list(picture.get_flattened_data())[2] == (150, 75, 0)  # the mean colour of the picture
    assert combined is not None and list(combined.get_flattened_data()) == [0, 255, 255, 255]
    plain, untouched = canvas_inputs(Image.new("RGB", (4, 1)), mask)
    assert plain.mode == "RGB" and untouched is mask
