"""Today's image families (FLUX.1, SD 3.5, Qwen-Image, SDXL-Lightning) in the engine."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError
from sfumato.engine.img2img import ImageToImageSpec, image_to_image
from sfumato.engine.inpaint import InpaintSpec, inpaint
from tests.engine.conftest import make_spec

pytestmark = pytest.mark.usefixtures("one_thread")

# key → (guidance the model card uses, a negative prompt where the family takes one)
FAMILIES = {
    "tiny-flux-schnell": (0.0, None),
    "tiny-flux-dev": (3.5, None),
    "tiny-sd3": (4.5, "fog"),
    "tiny-qwen-image": (4.0, "fog"),
}


def _pixels(image: object) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _spec(key: str, **changes: object) -> object:
    guidance, negative = FAMILIES[key]
    fields: dict[str, object] = {"model_key": key, "guidance_scale": guidance, "negative_prompt": negative}
    return make_spec(**{**fields, **changes})


@pytest.mark.parametrize("key", FAMILIES)
def test_text_to_image_is_seeded_per_image(engine: Engine, key: str) -> None:
    first = engine.text_to_image(_spec(key, seeds=(7, 8)))  # type: ignore[arg-type]
    again = engine.text_to_image(_spec(key, seeds=(7, 8)))  # type: ignore[arg-type]
    alone = engine.text_to_image(_spec(key, seeds=(7,)))  # type: ignore[arg-type]
    other_prompt = engine.text_to_image(_spec(key, seeds=(7,), prompt="a blue whale"))  # type: ignore[arg-type]
    assert [image.size for image in first.images] == [(64, 64), (64, 64)]
    for mine, theirs in zip(first.images, again.images, strict=True):
        assert np.array_equal(_pixels(mine), _pixels(theirs))  # same seeds: the same pixels
    assert not np.array_equal(_pixels(first.images[0]), _pixels(first.images[1]))
    # An image depends on its own seed, not on its batch (beyond one level of rounding).
    assert np.abs(_pixels(first.images[0]) - _pixels(alone.images[0])).max() <= 1
    assert not np.array_equal(_pixels(alone.images[0]), _pixels(other_prompt.images[0]))
    assert first.lineage["scheduler"] == "FlowMatchEulerDiscreteScheduler"


@pytest.mark.parametrize("key", ["tiny-flux-dev", "tiny-sd3", "tiny-qwen-image"])
def test_batched_specs_match_each_spec_run_alone(engine: Engine, key: str) -> None:
    # 128×128, 8 steps: large enough for batching's float rounding to be able to show.
    common = {"width": 128, "height": 128, "steps": 8}
    specs = [_spec(key, prompt="a red fox", seeds=(1,), **common),
             _spec(key, prompt="a lighthouse at dusk", seeds=(5, 6), **common)]  # fmt: skip
    batched = engine.text_to_image_batch(specs)  # type: ignore[arg-type]
    assert [len(out.images) for out in batched] == [1, 2]
    for spec, out in zip(specs, batched, strict=True):
        alone = engine.text_to_image(spec)  # type: ignore[arg-type]
        for mine, theirs in zip(out.images, alone.images, strict=True):
            assert np.abs(_pixels(mine) - _pixels(theirs)).max() <= 1


def test_guidance_is_an_input_of_flux_dev_and_absent_from_schnell(engine: Engine) -> None:
    # [dev] embeds the guidance scale: a different scale is a different picture.
    low = engine.text_to_image(_spec("tiny-flux-dev", guidance_scale=1.5))  # type: ignore[arg-type]
    high = engine.text_to_image(_spec("tiny-flux-dev", guidance_scale=6.0))  # type: ignore[arg-type]
    assert not np.array_equal(_pixels(low.images[0]), _pixels(high.images[0]))
    with pytest.raises(EngineError, match="no guidance_scale"):
        engine.text_to_image(_spec("tiny-flux-schnell", guidance_scale=3.5))  # type: ignore[arg-type]


def test_a_negative_prompt_steers_sd3_and_qwen_image(engine: Engine) -> None:
    for key in ("tiny-sd3", "tiny-qwen-image"):
        fog = engine.text_to_image(_spec(key, negative_prompt="fog"))  # type: ignore[arg-type]
        rain = engine.text_to_image(_spec(key, negative_prompt="rain"))  # type: ignore[arg-type]
        assert not np.array_equal(_pixels(fog.images[0]), _pixels(rain.images[0])), key


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_key": "tiny-flux-dev", "negative_prompt": "fog"}, "no negative_prompt"),
        ({"model_key": "tiny-flux-dev", "width": 72}, "multiple of 16"),
        ({"model_key": "tiny-sd3", "scheduler": "DDIM"}, "own flow-matching scheduler"),
        ({"model_key": "tiny-qwen-image", "tiling": True}, "tiling"),
    ],
)
def test_what_a_family_cannot_take_is_refused(
    engine: Engine, changes: dict[str, object], message: str
) -> None:
    base = _spec(str(changes["model_key"]))
    fields = {**vars(base), **changes}
    with pytest.raises(EngineError, match=message):
        engine.text_to_image(make_spec(**fields))


@pytest.mark.parametrize("key", FAMILIES)
def test_image_to_image_and_inpaint(engine: Engine, key: str) -> None:
    guidance, negative = FAMILIES[key]
    picture = Image.linear_gradient("L").resize((64, 64)).convert("RGB")
    edited = image_to_image(
        engine,
        ImageToImageSpec(key, "a red fox", negative, picture, 64, 64, 4, guidance, 0.5, (3, 4)),
    )
    assert edited.lineage["pipeline"].endswith(("Img2ImgPipeline",))  # type: ignore[union-attr]
    assert [image.size for image in edited.images] == [(64, 64), (64, 64)]
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    painted = inpaint(
        engine, InpaintSpec(key, "a red fox", negative, picture, mask, 64, 64, 4, guidance, (3,))
    )
    assert painted.lineage["pipeline"].endswith("InpaintPipeline")  # type: ignore[union-attr]
    out = _pixels(painted.images[0])
    keep = _pixels(picture)
    assert np.array_equal(out[:16], keep[:16])  # outside the mask: the input, pixel for pixel
    assert not np.array_equal(out[16:48, 16:48], keep[16:48, 16:48])


def test_sdxl_lightning_samples_trailing_timesteps(engine: Engine) -> None:
    out = engine.text_to_image(make_spec(model_key="tiny-sdxl-lightning", steps=4, guidance_scale=0.0,
                                         negative_prompt=None))  # fmt: skip
    assert out.images[0].size == (64, 64)
    with engine.pipelines.lease(engine.catalog.resolve("tiny-sdxl-lightning"), "EULER_DISCRETE") as loaded:  # type: ignore[arg-type]
        loaded.pipeline.scheduler.set_timesteps(4)
        # Trailing spacing starts at the last training step: a 4-step draft starts from pure noise.
        assert int(loaded.pipeline.scheduler.timesteps[0]) == 999


def test_kontext_edits_by_instruction_at_the_requested_size(engine: Engine) -> None:
    gradient = Image.linear_gradient("L").resize((64, 48)).convert("RGB")
    flat = Image.new("RGB", (64, 48), (200, 40, 40))

    def edit(picture: Image.Image, prompt: str = "make the sky stormy") -> np.ndarray:
        spec = ImageToImageSpec("tiny-flux-kontext", prompt, None, picture, 64, 48, 4, 2.5, 1.0, (3,))
        out = image_to_image(engine, spec)
        assert out.lineage["pipeline"] == "FluxKontextPipeline"
        assert out.images[0].size == (64, 48)  # not rescaled to Kontext's preferred megapixel
        return _pixels(out.images[0])

    first = edit(gradient)
    assert np.array_equal(first, edit(gradient))
    assert not np.array_equal(first, edit(flat))  # the picture is the context of the edit
    assert not np.array_equal(first, edit(gradient, "make it night"))
    kontext = {"model_key": "tiny-flux-kontext", "negative_prompt": None, "guidance_scale": 2.5}
    drawn = engine.text_to_image(make_spec(**kontext, width=64, height=48))
    assert drawn.images[0].size == (64, 48)


@pytest.mark.parametrize(
    ("family", "negative", "expected"),
    [
        ("sdxl", "fog", {"guidance_scale": 5.0, "negative_prompt": "fog"}),
        ("sd3", None, {"guidance_scale": 5.0, "negative_prompt": None}),
        ("flux-dev", None, {"guidance_scale": 5.0}),  # embedded in the transformer's input
        ("flux-schnell", None, {"max_sequence_length": 256}),  # no guidance; its distilled T5 length
        ("qwen-image", None, {"true_cfg_scale": 5.0, "negative_prompt": " "}),
        ("qwen-image", ["fog", ""], {"true_cfg_scale": 5.0, "negative_prompt": ["fog", " "]}),
    ],
)
def test_each_family_s_call_keywords(family: str, negative: object, expected: dict[str, object]) -> None:
    from sfumato.engine import families

    assert families.call_arguments(family, 5.0, negative) == expected  # type: ignore[arg-type]
