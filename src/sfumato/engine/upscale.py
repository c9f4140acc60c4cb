"""Upscaling: a super-resolution network, then (for creative upscales) a diffusion pass over tiles.

The network is an ESRGAN-class model (Real-ESRGAN and relatives) loaded with spandrel, the
field's loader for such state dicts: it reads the architecture and scale from the weights,
so any ×2/×4 ESRGAN, SwinIR or similar file works. It runs over overlapping input tiles so a
large image fits in memory, and the result is resized to exactly the promised multiple
(``target_size``) when the network's own scale differs.

A creative upscale then repaints the enlarged image tile by tile with the realtime LCM
(image-to-image at a low ``strength``), blending tile overlaps with linear ramps: detail is
invented where the network only sharpened, and the composition stays put.

Upscalers are catalog models of the ``esrgan`` family (``realesrgan-x4plus``, the tiny
``tiny-esrgan`` built offline, or weights a setting names by path), loaded through the
engine's pipeline cache like every other model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sfumato.engine import lcm, report
from sfumato.engine.catalog import UPSCALER_FAMILY
from sfumato.engine.errors import EngineError
from sfumato.engine.specs import ImageOutput

if TYPE_CHECKING:
    from PIL.Image import Image

    from sfumato.engine.txt2img import Engine

_SR_TILE = 256  # input pixels per super-resolution tile
_SR_TILE_PAD = 16  # context each tile sees beyond its own pixels, cropped off afterwards
_BATCH = 4  # creative tiles per pipeline call


@dataclass(frozen=True)
class CreativePass:
    """The diffusion pass of a creative upscale: LCM image-to-image over tiles of ``tile`` px."""

    model_key: str
    prompt: str
    strength: float
    steps: int
    guidance_scale: float
    seed: int
    tile: int | None = None  # default: the model's native size


@dataclass(frozen=True)
class UpscaleSpec:
    image: Image
    multiplier: float
    upscaler: str
    creative: CreativePass | None = None
    detail_contrast: int | None = None  # 1-10: an unsharp mask's strength, applied last


def target_size(width: int, height: int, multiplier: float) -> tuple[int, int]:
    """The promised output size: each side times ``multiplier``, rounded half up."""
    return math.floor(width * multiplier + 0.5), math.floor(height * multiplier + 0.5)


def upscale(engine: Engine, spec: UpscaleSpec) -> ImageOutput:
    """Enlarge ``spec.image`` to exactly ``target_size``, creatively when asked."""
    if not 1.0 <= spec.multiplier <= 8.0:
        raise EngineError("the upscale multiplier must be between 1 and 8")
    width, height = target_size(spec.image.width, spec.image.height, spec.multiplier)
    entry = engine.catalog.require(spec.upscaler, UPSCALER_FAMILY)
    # The lease ends before the creative pass: loading its model may evict this one.
    with engine.pipelines.lease(entry) as loaded:
        model = loaded.pipeline
        report.stage(report.UPSCALING)
        enlarged = super_resolve(model, spec.image)
    if enlarged.size != (width, height):
        from PIL import Image as PILImage

        enlarged = enlarged.resize((width, height), PILImage.Resampling.LANCZOS)
    lineage: dict[str, object] = {
        "task": "upscale",
        "upscaler": spec.upscaler,
        "upscaler_fingerprint": loaded.fingerprint,
        "upscaler_architecture": model.architecture.name,
        "upscaler_scale": model.scale,
        "multiplier": spec.multiplier,
        "width": width,
        "height": height,
        "device": engine.pipelines.device,
    }
    seeds: list[int] = []
    if spec.creative is not None:
        enlarged, tiles = creative_pass(engine, enlarged, spec.creative)
        seeds = [spec.creative.seed]
        lineage.update(
            creative_model=spec.creative.model_key,
            creative_strength=spec.creative.strength,
            creative_steps=spec.creative.steps,
            creative_tiles=tiles,
        )
    if spec.detail_contrast:
        from PIL import ImageFilter

        sharpen = ImageFilter.UnsharpMask(radius=2, percent=15 * spec.detail_contrast, threshold=2)
        enlarged = enlarged.filter(sharpen)
        lineage["detail_contrast"] = spec.detail_contrast
    return ImageOutput(images=[enlarged], seeds=seeds, lineage=lineage)


def super_resolve(model: Any, image: Image) -> Image:
    """Run a spandrel image model over ``image`` in padded tiles; ``model.scale`` × larger."""
    import numpy as np
    import torch
    from PIL import Image as PILImage

    scale = int(model.scale)
    source = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0)
    source = source.permute(2, 0, 1).unsqueeze(0)
    _, _, height, width = source.shape
    out = torch.zeros((1, 3, height * scale, width * scale))
    device = next(model.model.parameters()).device
    dtype = next(model.model.parameters()).dtype
    with torch.inference_mode():
        for top in range(0, height, _SR_TILE):
            for left in range(0, width, _SR_TILE):
                bottom, right = min(top + _SR_TILE, height), min(left + _SR_TILE, width)
                # Each tile sees _SR_TILE_PAD pixels of context on every side, so its
                # border pixels are computed as if the image went on; the context is cut off.
                y0, x0 = max(top - _SR_TILE_PAD, 0), max(left - _SR_TILE_PAD, 0)
                y1, x1 = min(bottom + _SR_TILE_PAD, height), min(right + _SR_TILE_PAD, width)
                tile = _pad_to(source[:, :, y0:y1, x0:x1], model.size_requirements)
                result = model(tile.to(device=device, dtype=dtype)).float().cpu()
                oy, ox = (top - y0) * scale, (left - x0) * scale
                out[:, :, top * scale : bottom * scale, left * scale : right * scale] = result[
                    :, :, oy : oy + (bottom - top) * scale, ox : ox + (right - left) * scale
                ]
    pixels = (out[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    return PILImage.fromarray(pixels)


def creative_pass(engine: Engine, image: Image, creative: CreativePass) -> tuple[Image, int]:
    """Repaint ``image`` with LCM image-to-image over overlapping tiles; returns it and the tile count."""
    import numpy as np
    from PIL import Image as PILImage

    entry = engine.catalog.resolve(creative.model_key)
    if entry is None:
        raise EngineError(f"unknown model {creative.model_key!r}")
    width, height = image.size
    # The VAE works on 8-pixel cells: extend the edges to a multiple of 8, crop at the end.
    padded_w, padded_h = _ceil8(width), _ceil8(height)
    canvas = _extend_edges(image.convert("RGB"), padded_w, padded_h)
    tile = _ceil8(creative.tile or entry.default_width)
    tile_w, tile_h = min(tile, padded_w), min(tile, padded_h)
    overlap = max(8, tile // 8)
    boxes = [
        (left, top, left + tile_w, top + tile_h)
        for top in _starts(padded_h, tile_h, overlap)
        for left in _starts(padded_w, tile_w, overlap)
    ]
    painted: list[Image] = []
    with lcm.lease(engine, entry) as loaded:
        for first in range(0, len(boxes), _BATCH):
            chunk = boxes[first : first + _BATCH]
            painted += lcm.refine_images(
                loaded,
                [canvas.crop(box) for box in chunk],
                prompt=creative.prompt,
                steps=creative.steps,
                guidance_scale=lcm.canvas_guidance(entry, creative.guidance_scale),
                strength=creative.strength,
                seeds=[creative.seed + first + i for i in range(len(chunk))],
            )
    total = np.zeros((padded_h, padded_w, 3), dtype=np.float64)
    weight = np.zeros((padded_h, padded_w, 1), dtype=np.float64)
    for (left, top, right, bottom), tile_image in zip(boxes, painted, strict=True):
        ramp = _ramp(tile_w, tile_h, overlap, left > 0, top > 0, right < padded_w, bottom < padded_h)
        total[top:bottom, left:right] += np.asarray(tile_image, dtype=np.float64) * ramp
        weight[top:bottom, left:right] += ramp
    pixels = np.clip(np.round(total / np.maximum(weight, 1e-8)), 0, 255).astype(np.uint8)
    return PILImage.fromarray(pixels).crop((0, 0, width, height)), len(boxes)


def _pad_to(tile: Any, requirements: Any) -> Any:
    """Reflect-pad the bottom/right edge so the tile meets the model's size requirements."""
    import torch.nn.functional as F

    _, _, height, width = tile.shape
    need_h = max(requirements.minimum, _round_up(height, requirements.multiple_of))
    need_w = max(requirements.minimum, _round_up(width, requirements.multiple_of))
    if (need_h, need_w) == (height, width):
        return tile
    mode = "reflect" if need_h - height < height and need_w - width < width else "replicate"
    return F.pad(tile, (0, need_w - width, 0, need_h - height), mode=mode)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple if multiple > 1 else value


def _ceil8(value: int) -> int:
    return _round_up(value, 8)


def _extend_edges(image: Image, width: int, height: int) -> Image:
    if image.size == (width, height):
        return image
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.asarray(image)
    extended = np.pad(pixels, ((0, height - image.height), (0, width - image.width), (0, 0)), mode="edge")
    return PILImage.fromarray(extended)


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis: ``tile`` apart minus ``overlap``, the last flush with the end."""
    if tile >= length:
        return [0]
    stride = max(tile - overlap, 1)
    starts = list(range(0, length - tile, stride))
    return [*starts, length - tile]


def _ramp(width: int, height: int, overlap: int, left: bool, top: bool, right: bool, bottom: bool) -> Any:
    """Blend weights of one tile: rising over ``overlap`` pixels on sides shared with a neighbour."""
    import numpy as np

    def axis(size: int, start: bool, end: bool) -> Any:
        weights = np.ones(size)
        ramp = (np.arange(overlap) + 1) / (overlap + 1)
        if start:
            weights[:overlap] = np.minimum(weights[:overlap], ramp)
        if end:
            weights[-overlap:] = np.minimum(weights[-overlap:], ramp[::-1])
        return weights

    return (axis(height, top, bottom)[:, None] * axis(width, left, right)[None, :])[:, :, None]
