"""Unzoom: the picture in the middle of a larger frame, its new surroundings painted.

It is outpainting (:func:`sfumato.engine.inpaint.expand_canvas` + :func:`inpaint`) with the
border chosen for the caller: every side grows by the same ratio, rounded to the grid the
model's family needs (8 pixels, 16 for the transformer families), and the original sits
centred and unchanged, pixel for pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sfumato.engine import families
from sfumato.engine.errors import EngineError
from sfumato.engine.inpaint import InpaintSpec, expand_canvas, inpaint
from sfumato.engine.specs import ImageOutput

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

_GRID = 8


@dataclass(frozen=True)
class UnzoomSpec:
    model_key: str
    prompt: str
    image: Image
    factor: float
    steps: int
    guidance_scale: float
    seed: int


def unzoom_size(width: int, height: int, factor: float, grid: int = _GRID) -> tuple[int, int]:
    """The frame: each side × ``factor``, to the nearest multiple of ``grid``, at least one
    ``grid`` wider."""
    if factor <= 1:
        raise EngineError("the unzoom factor must be above 1")

    def side(value: int) -> int:
        return max(round(value * factor / grid) * grid, -(-value // grid) * grid + grid)

    return side(width), side(height)


def placement(width: int, height: int, factor: float, grid: int = _GRID) -> tuple[int, int]:
    """Where the original's top-left corner lands in the frame."""
    frame_w, frame_h = unzoom_size(width, height, factor, grid)
    return (frame_w - width) // 2, (frame_h - height) // 2


def unzoom(engine: Engine, spec: UnzoomSpec) -> ImageOutput:
    width, height = spec.image.size
    entry = engine.catalog.resolve(spec.model_key)
    grid = families.traits(entry.family).size_step if entry is not None else _GRID
    frame_w, frame_h = unzoom_size(width, height, spec.factor, grid)
    left, top = placement(width, height, spec.factor, grid)
    canvas, mask = expand_canvas(
        spec.image, left=left, top=top, right=frame_w - width - left, bottom=frame_h - height - top
    )
    painted = inpaint(
        engine,
        InpaintSpec(
            model_key=spec.model_key,
            prompt=spec.prompt,
            negative_prompt=None,
            image=canvas,
            mask=mask,
            width=frame_w,
            height=frame_h,
            steps=spec.steps,
            guidance_scale=spec.guidance_scale,
            seeds=(spec.seed,),
            strength=1.0,
        ),
    )
    lineage = {**painted.lineage, "task": "unzoom", "factor": spec.factor, "left": left, "top": top}
    return ImageOutput(images=painted.images, seeds=painted.seeds, lineage=lineage)
