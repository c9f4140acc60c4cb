"""Reference pictures beside the picture being edited: an in-context canvas.

An edit given several pictures repaints the first and shows the model the others. None of
the UNet families has a reference-image input of its own without extra weights (an
IP-Adapter and its image encoder), so the references are placed *in context*: the canvas
the model denoises is the edited picture with each reference beside it, in a row of
equal cells. The mask covers only the edited picture's repaint area; the references are
kept area, which the inpainting pipeline blends back into the latents at every step. The
model's self-attention and convolutions therefore see the references at every step while
it repaints, so they shape the result (the "side-by-side" or diptych technique of
in-context editing). The output is the first cell, cropped back; it is composited as any
inpainting is, so the first picture's unmasked pixels are kept exactly.

The price is compute: the model runs over (1 + references) times the output's pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_REFERENCES = 3  # cells beside the edited picture: the run's cost grows with each


def stitch(picture: Image, mask: Image, references: Sequence[Image]) -> tuple[Image, Image]:
    """The in-context canvas and its mask: ``picture`` (and ``mask``) in the first cell, each
    reference fitted inside a cell of the same size to its right (its aspect kept, centred on
    its own mean colour); the references' cells are black in the mask (kept)."""
    from PIL import Image as PILImage

    width, height = picture.size
    cells = 1 + len(references)
    canvas = PILImage.new("RGB", (width * cells, height))
    canvas.paste(picture.convert("RGB"), (0, 0))
    wide_mask = PILImage.new("L", (width * cells, height), 0)
    wide_mask.paste(mask.convert("L"), (0, 0))
    for position, reference in enumerate(references, start=1):
        canvas.paste(_cell(reference, width, height), (position * width, 0))
    return canvas, wide_mask


def first_cell(image: Image, width: int, height: int) -> Image:
    """The edited picture's cell of an in-context output."""
    return image.crop((0, 0, width, height))


def _cell(reference: Image, width: int, height: int) -> Image:
    from PIL import Image as PILImage
    from PIL import ImageStat

    rgb = reference.convert("RGB")
    scale = min(width / rgb.width, height / rgb.height)
    fitted = rgb.resize(
        (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))), PILImage.Resampling.LANCZOS
    )
    mean = tuple(int(v) for v in ImageStat.Stat(fitted).mean[:3])
    cell = PILImage.new("RGB", (width, height), mean)
    cell.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
    return cell
