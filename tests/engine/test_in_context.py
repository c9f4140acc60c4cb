"""The in-context canvas: the edited picture first, each reference in a cell beside it, kept."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sfumato.engine import in_context


def test_references_sit_beside_the_picture_and_are_kept_area() -> None:
    picture = Image.new("RGB", (32, 16), (10, 20, 30))
    mask = Image.new("L", (32, 16), 0)
    mask.paste(255, (0, 0, 8, 8))
    tall = Image.new("RGB", (8, 32), (200, 0, 0))  # another aspect: fitted inside its cell
    canvas, wide = in_context.stitch(picture, mask, [tall, Image.new("RGB", (64, 32), (0, 0, 250))])
    assert canvas.size == wide.size == (96, 16)
    pixels, kept = np.asarray(canvas), np.asarray(wide)
    assert (pixels[:, :32] == (10, 20, 30)).all()
    assert (pixels[:, 64:] == (0, 0, 250)).all()
    assert (pixels[8, 46:50] == (200, 0, 0)).all()  # centred in its cell
    assert kept[:8, :8].min() == 255 and kept[:, 32:].max() == 0  # only the picture's hole repaints
    assert in_context.first_cell(canvas, 32, 16).tobytes() == picture.tobytes()
