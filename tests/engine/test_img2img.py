"""Image-to-image on tiny models: it shares the loaded weights, follows its inputs, repeats."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError
from sfumato.engine.editing import derive
from sfumato.engine.img2img import ImageToImageSpec, image_to_image
from sfumato.engine.pipeline_cache import LoadedPipeline


def picture(seed: int = 0, size: tuple[int, int] = (64, 64)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def spec(**changes: Any) -> ImageToImageSpec:
    fields: dict[str, Any] = {
        "model_key": "tiny-sd15",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": None,
        "image": picture(),
        "width": 64,
        "height": 64,
        "steps": 10,
        "guidance_scale": 7.0,
        "strength": 0.5,
        "seeds": (7,),
    }
    fields.update(changes)
    return ImageToImageSpec(**fields)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_derived_pipeline_shares_every_weight(engine: Engine) -> None:
    entry = engine.catalog.resolve("tiny-sd15")
    assert entry is not None
    with engine.pipelines.lease(entry) as loaded:
        derived = derive(loaded, "image_to_image")
        assert type(derived).__name__ == "StableDiffusionImg2ImgPipeline"
        for name in ("unet", "vae", "text_encoder", "tokenizer"):
            assert getattr(derived, name) is getattr(loaded.pipeline, name)
    before = engine.loaded_models()
    image_to_image(engine, spec())
    assert engine.loaded_models() == before  # nothing else was loaded for it


def test_deriving_never_casts_the_shared_weights(engine: Engine) -> None:
    """A pipeline class's own from_pipe casts the shared modules to float32 in place; derive's must not."""
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline

    entry = engine.catalog.resolve("tiny-sd15")
    assert entry is not None
    base = engine.pipelines.get(entry)
    half = type(base)(**base.components).to(dtype=torch.bfloat16)
    pointers = {name: p.data_ptr() for name, p in half.unet.named_parameters()}
    loaded = LoadedPipeline(half, "tiny-sd15", "x", "cpu", "bfloat16")
    for task in ("image_to_image", "inpaint"):
        derived = derive(loaded, task)  # type: ignore[arg-type]
        assert derived.unet is half.unet and half.unet.dtype == torch.bfloat16
        assert {name: p.data_ptr() for name, p in half.unet.named_parameters()} == pointers
    StableDiffusionImg2ImgPipeline.from_pipe(half)  # the trap derive() avoids
    assert half.unet.dtype == torch.float32


def test_same_seed_same_pixels_and_the_picture_matters(engine: Engine, one_thread: None) -> None:
    first = image_to_image(engine, spec(seeds=(7, 8)))
    again = image_to_image(engine, spec(seeds=(7, 8)))
    assert [im.size for im in first.images] == [(64, 64), (64, 64)]
    assert np.array_equal(pixels(first.images[0]), pixels(again.images[0]))
    assert not np.array_equal(pixels(first.images[0]), pixels(first.images[1]))
    other_picture = image_to_image(engine, spec(image=picture(seed=99), seeds=(7,)))
    assert not np.array_equal(pixels(first.images[0]), pixels(other_picture.images[0]))
    stronger = image_to_image(engine, spec(strength=0.9, seeds=(7,)))
    assert not np.array_equal(pixels(first.images[0]), pixels(stronger.images[0]))
    assert first.lineage["task"] == "image_to_image" and first.lineage["strength"] == 0.5
    assert first.lineage["pipeline"] == "StableDiffusionImg2ImgPipeline"


def test_input_of_another_size_is_fitted(engine: Engine) -> None:
    output = image_to_image(engine, spec(image=picture(size=(100, 60)), width=96, height=64))
    assert output.images[0].size == (96, 64)


def test_a_mask_keeps_everything_outside_it(engine: Engine) -> None:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    output = image_to_image(engine, spec(mask=mask, strength=0.8))
    changed = np.abs(pixels(output.images[0]) - pixels(picture()))
    assert changed[:, 32:].max() == 0 and changed[:, :32].mean() > 10


def test_sdxl(engine: Engine) -> None:
    output = image_to_image(engine, spec(model_key="tiny-sdxl"))
    assert output.images[0].size == (64, 64)
    assert output.lineage["pipeline"] == "StableDiffusionXLImg2ImgPipeline"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strength": 0.05}, "no denoising step"),
        ({"strength": 0.0}, "strength"),
        ({"width": 60}, "multiple of 8"),
        ({"seeds": ()}, "seed"),
        ({"model_key": "nope"}, "unknown model"),
        ({"model_key": "tiny-sd15-inpainting"}, "inpainting model"),
    ],
)
def test_refusals(engine: Engine, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        image_to_image(engine, spec(**changes))
