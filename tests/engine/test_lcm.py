"""The realtime canvas engine: LCM image-to-image and inpainting on the tiny LCM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Catalog, Engine, EngineError
from sfumato.engine.lcm import CanvasSpec, run
from tests.engine.conftest import DEVICE, make_spec


def canvas(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def spec(**changes: object) -> CanvasSpec:
    fields: dict[str, object] = {
        "model_key": "tiny-lcm",
        "prompt": "a castle on a hill",
        "image": canvas(),
        "steps": 4,
        "guidance_scale": 8.0,
        "strength": 0.5,
        "seed": 7,
    }
    fields.update(changes)
    return CanvasSpec(**fields)  # type: ignore[arg-type]


def test_same_seed_same_pixels_other_seed_other_pixels(engine: Engine, one_thread: None) -> None:
    first = np.asarray(run(engine, spec()).images[0])
    again = np.asarray(run(engine, spec()).images[0])
    other = np.asarray(run(engine, spec(seed=8)).images[0])
    assert first.shape == (64, 64, 3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_output_keeps_the_canvas_size(engine: Engine) -> None:
    output = run(engine, spec(image=canvas(96, 64)))
    assert output.images[0].size == (96, 64)
    assert output.lineage["task"] == "lcm_image_to_image"
    assert output.lineage["scheduler"] == "LCMScheduler"


def test_inpainting_repaints_the_mask_and_keeps_the_rest_exactly(engine: Engine) -> None:
    image = canvas(seed=3)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    painted = np.asarray(run(engine, spec(image=image, mask=mask, strength=1.0)).images[0]).astype(int)
    original = np.asarray(image).astype(int)
    outside = np.asarray(mask) == 0
    assert np.array_equal(painted[outside], original[outside])
    assert np.abs(painted[~outside] - original[~outside]).mean() > 10


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_key": "tiny-sd15"}, "not a few-step canvas model"),
        ({"steps": 4, "strength": 0.2}, "steps × strength"),
        ({"steps": 17}, "steps must be between"),
        ({"image": canvas(60, 64)}, "multiple of 8"),
        ({"mask": Image.new("L", (32, 32))}, "mask must have the image's size"),
    ],
)
def test_refuses_what_the_pipeline_cannot_do(
    engine: Engine, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(EngineError, match=message):
        run(engine, spec(**changes))


def test_the_lcm_model_stays_loaded_while_other_models_come_and_go(
    catalog: Catalog, tiny_models_dir: Path
) -> None:
    engine = Engine(catalog, tiny_models_dir, device=DEVICE, max_loaded=1)
    run(engine, spec())
    engine.text_to_image(make_spec(model_key="tiny-sd15", steps=1))
    engine.text_to_image(make_spec(model_key="tiny-sd-turbo", steps=1, guidance_scale=0.0))
    assert engine.loaded_models() == ["tiny-lcm", "tiny-sd-turbo"]


def test_sdxl_lightning_serves_the_canvas_without_guidance(engine: Engine, one_thread: None) -> None:
    """The distilled SDXL draws the canvas in a few trailing steps; guidance is not applied."""
    lightning = spec(model_key="tiny-sdxl-lightning", steps=4, guidance_scale=8.0)
    first = run(engine, lightning)
    unguided = run(engine, spec(model_key="tiny-sdxl-lightning", steps=4, guidance_scale=0.0))
    other = run(engine, spec(model_key="tiny-sdxl-lightning", steps=4, seed=8))
    assert first.lineage["guidance_scale"] == 0.0
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(unguided.images[0]))
    assert not np.array_equal(np.asarray(first.images[0]), np.asarray(other.images[0]))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    painted = np.asarray(run(engine, spec(model_key="tiny-sdxl-lightning", mask=mask)).images[0]).astype(int)
    before = np.asarray(canvas()).astype(int)
    assert np.abs(painted[:8] - before[:8]).max() <= 1  # outside the mask: kept
    assert np.abs(painted[24:40, 24:40] - before[24:40, 24:40]).max() > 8
    with pytest.raises(EngineError, match="few-step canvas model"):
        run(engine, spec(model_key="tiny-sdxl"))
