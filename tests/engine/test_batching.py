"""Dynamic batching in the engine: one call for several specs, pixels as if each ran alone."""

from __future__ import annotations

import numpy as np
import pytest

from sfumato.engine import Engine, EngineError
from sfumato.engine.batching import spec_key
from tests.engine.conftest import make_spec

pytestmark = pytest.mark.usefixtures("one_thread")


def _pixels(image: object) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.mark.parametrize(
    ("model_key", "scheduler", "negative"),
    [
        ("tiny-sd15", None, "blurry"),
        ("tiny-sd15", "EULER_ANCESTRAL_DISCRETE", None),  # draws fresh noise every step
        ("tiny-sdxl", None, None),
    ],
)
def test_batched_specs_match_each_spec_run_alone(
    engine: Engine, model_key: str, scheduler: str | None, negative: str | None
) -> None:
    # 128×128 and 8 steps: large enough that batching's float rounding can reach a pixel
    # (at 64×64 the pixels come out bit-identical, which would prove nothing).
    common = {"model_key": model_key, "width": 128, "height": 128, "steps": 8,
              "scheduler": scheduler, "negative_prompt": negative}  # fmt: skip
    specs = [
        make_spec(prompt="a red fox", seeds=(1,), **common),
        make_spec(prompt="a lighthouse at dusk", seeds=(5, 6), **common),
        make_spec(prompt="a bowl of ramen", seeds=(9,), **common),
    ]
    batched = engine.text_to_image_batch(specs)
    assert [len(out.images) for out in batched] == [1, 2, 1]
    assert [out.lineage["batch_position"] for out in batched] == [0, 1, 3]
    assert {out.lineage["batch_size"] for out in batched} == {4}
    for spec, out in zip(specs, batched, strict=True):
        alone = engine.text_to_image(spec)
        assert out.seeds == list(spec.seeds)
        for mine, theirs in zip(out.images, alone.images, strict=True):
            assert mine.size == (128, 128)
            assert np.abs(_pixels(mine) - _pixels(theirs)).max() <= 1


def test_prompts_are_not_mixed_up_within_a_batch(engine: Engine) -> None:
    specs = [make_spec(prompt="a red fox", seeds=(3,)), make_spec(prompt="a blue whale", seeds=(3,))]
    fox, whale = engine.text_to_image_batch(specs)
    assert not np.array_equal(_pixels(fox.images[0]), _pixels(whale.images[0]))


def test_specs_that_differ_beyond_prompt_and_seed_are_refused(engine: Engine) -> None:
    a, b = make_spec(steps=4), make_spec(steps=5)
    assert spec_key(a) != spec_key(b)
    with pytest.raises(EngineError, match="agree"):
        engine.text_to_image_batch([a, b])


def test_negative_prompt_presence_is_part_of_the_key() -> None:
    assert spec_key(make_spec(negative_prompt=None)) != spec_key(make_spec(negative_prompt=""))
    assert spec_key(make_spec(prompt="x", seeds=(1,))) == spec_key(make_spec(prompt="y", seeds=(2, 3)))
