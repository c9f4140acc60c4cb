"""Unzoom: a larger frame with the picture unchanged in its middle and a painted border."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError
from sfumato.engine.unzoom import UnzoomSpec, placement, unzoom, unzoom_size


def picture(width: int = 64, height: int = 48) -> Image.Image:
    pixels = np.random.default_rng(2).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


@pytest.mark.parametrize(
    ("size", "frame"), [((64, 48), (96, 72)), ((100, 75), (152, 112)), ((8, 8), (16, 16))]
)
def test_the_frame_is_one_and_a_half_times_on_the_8_pixel_grid(
    size: tuple[int, int], frame: tuple[int, int]
) -> None:
    assert unzoom_size(*size, 1.5) == frame


@pytest.mark.parametrize("model_key", ["tiny-sd15", "tiny-sd15-inpainting", "tiny-sdxl"])
def test_the_picture_stays_exactly_in_the_middle_and_the_border_is_painted(
    engine: Engine, model_key: str
) -> None:
    source = picture()
    spec = UnzoomSpec(model_key=model_key, prompt="a valley", image=source, factor=1.5, steps=4,
                      guidance_scale=7.0, seed=3)  # fmt: skip
    output = unzoom(engine, spec)
    framed = np.asarray(output.images[0])
    assert framed.shape == (72, 96, 3)
    left, top = placement(64, 48, 1.5)
    assert np.array_equal(framed[top : top + 48, left : left + 64], np.asarray(source))
    border = np.ones((72, 96), dtype=bool)
    border[top : top + 48, left : left + 64] = False
    mean = np.asarray(source).reshape(-1, 3).mean(axis=0).astype(int)
    assert np.abs(framed[border].astype(int) - mean).mean() > 5  # painted, not the flat fill
    assert output.lineage["task"] == "unzoom"


def test_a_factor_that_does_not_enlarge_is_refused() -> None:
    with pytest.raises(EngineError, match="above 1"):
        unzoom_size(64, 64, 1.0)


def test_a_transformer_family_unzooms_on_its_16_pixel_grid(engine: Engine) -> None:
    source = picture()
    spec = UnzoomSpec(model_key="tiny-flux-dev", prompt="a valley", image=source, factor=1.5, steps=4,
                      guidance_scale=3.5, seed=3)  # fmt: skip
    framed = np.asarray(unzoom(engine, spec).images[0])
    assert unzoom_size(64, 48, 1.5, grid=16) == (96, 64) and framed.shape == (64, 96, 3)
    left, top = placement(64, 48, 1.5, grid=16)
    assert np.array_equal(framed[top : top + 48, left : left + 64], np.asarray(source))
