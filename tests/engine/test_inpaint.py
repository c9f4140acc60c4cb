"""Inpainting and outpainting on tiny models: the kept area is kept, the masked one repainted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError
from sfumato.engine.inpaint import InpaintSpec, composite, expand_canvas, inpaint
from tests.engine.test_img2img import picture, pixels


def center_mask(size: int = 64) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, (16, 16, 48, 48))
    return mask


def spec(**changes: Any) -> InpaintSpec:
    fields: dict[str, Any] = {
        "model_key": "tiny-sd15",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": None,
        "image": picture(),
        "mask": center_mask(),
        "width": 64,
        "height": 64,
        "steps": 10,
        "guidance_scale": 7.0,
        "seeds": (3,),
    }
    fields.update(changes)
    return InpaintSpec(**fields)


@pytest.mark.parametrize(
    ("model_key", "pipeline"),
    [
        ("tiny-sd15", "StableDiffusionInpaintPipeline"),
        ("tiny-sd15-inpainting", "StableDiffusionInpaintPipeline"),
        ("tiny-sdxl", "StableDiffusionXLInpaintPipeline"),
        ("tiny-sdxl-inpainting", "StableDiffusionXLInpaintPipeline"),
    ],
)
def test_unmasked_pixels_are_kept_and_masked_ones_repainted(
    engine: Engine, model_key: str, pipeline: str
) -> None:
    output = inpaint(engine, spec(model_key=model_key))
    difference = np.abs(pixels(output.images[0]) - pixels(picture())).mean(axis=2)
    inside = np.asarray(center_mask()) == 255
    assert difference[~inside].max() == 0
    assert difference[inside].mean() > 20
    assert output.lineage["pipeline"] == pipeline
    assert output.lineage["dedicated_model"] is model_key.endswith("inpainting")


def test_same_seed_same_pixels(engine: Engine, one_thread: None) -> None:
    first = inpaint(engine, spec(seeds=(1, 2)))
    again = inpaint(engine, spec(seeds=(1, 2)))
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0]))
    assert not np.array_equal(pixels(first.images[0]), pixels(first.images[1]))


def test_outpainting_fills_a_new_border(engine: Engine) -> None:
    canvas, mask = expand_canvas(picture(size=(32, 32)), left=16, top=16, right=16, bottom=16)
    assert canvas.size == mask.size == (64, 64)
    assert np.array_equal(pixels(canvas.crop((16, 16, 48, 48))), pixels(picture(size=(32, 32))))
    output = inpaint(engine, spec(image=canvas, mask=mask))
    kept = pixels(output.images[0].crop((16, 16, 48, 48)))
    assert np.array_equal(kept, pixels(picture(size=(32, 32))))


def test_composite() -> None:
    painted, original = Image.new("RGB", (2, 1), (255, 0, 0)), Image.new("RGB", (2, 1), (0, 0, 255))
    mask = Image.new("L", (2, 1), 0)
    mask.putpixel((0, 0), 255)
    assert list(composite(painted, original, mask).get_flattened_data()) == [(255, 0, 0), (0, 0, 255)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mask": center_mask(32)}, "must match"),
        ({"mask": Image.new("L", (64, 64), 0)}, "selects nothing"),
        ({"strength": 0.05}, "no denoising step"),
    ],
)
def test_refusals(engine: Engine, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        inpaint(engine, spec(**changes))
