"""Engine fast paths: the default ones keep pixels within a level of eager mode; the opt-in
ones do what they say (feature reuse skips work, the compile cache is used on a second start)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sfumato.engine import Catalog, Engine
from sfumato.engine.fast_paths import EAGER, FastPaths
from tests.engine.conftest import DEVICE, make_spec

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def eager(catalog: Catalog, tiny_models_dir: Path) -> Engine:
    """The same tiny models with no fast path at all."""
    return Engine(catalog, tiny_models_dir, device=DEVICE, max_loaded=2, fast=EAGER)


def _pixels(image: object) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def _largest_difference(a: list[object], b: list[object]) -> int:
    return max(int(np.abs(_pixels(x) - _pixels(y)).max()) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("model_key", ["tiny-sd15", "tiny-sdxl"])
def test_default_fast_paths_keep_pixels_within_a_level_of_eager_mode(
    engine: Engine, eager: Engine, model_key: str
) -> None:
    # 128×128 and 8 steps, where a change of float rounding can reach a pixel (see test_batching).
    spec = make_spec(model_key=model_key, width=128, height=128, steps=8, seeds=(1, 2))
    fast, plain = engine.text_to_image(spec), eager.text_to_image(spec)
    assert fast.lineage["fast_paths"] == ["channels_last", "fused_qkv"]
    assert "fast_paths" not in plain.lineage
    unet = engine.pipelines.get(engine.catalog.resolve(model_key)).unet  # type: ignore[arg-type]
    assert {type(p).__name__ for p in unet.attn_processors.values()} == {"FusedAttnProcessor2_0"}
    assert _largest_difference(fast.images, plain.images) <= 1
    # A repeated prompt skips the text encoders, to the same pixels.
    texts = engine.pipelines.text_cache(model_key)
    assert texts is not None
    hits = texts.hits
    again = engine.text_to_image(spec)
    assert texts.hits == hits + 1
    assert _largest_difference(again.images, fast.images) == 0


def test_a_batch_of_prompts_is_encoded_together_whatever_the_cache_holds(
    engine: Engine, eager: Engine
) -> None:
    common = {"width": 128, "height": 128, "steps": 8}
    specs = [make_spec(prompt="a fox no other test draws", seeds=(1,), **common),
             make_spec(prompt="a whale no other test draws", seeds=(2,), **common)]  # fmt: skip
    engine.text_to_image(specs[0])  # the fox's encoding is kept ...
    texts = engine.pipelines.text_cache("tiny-sd15")
    assert texts is not None
    hits, misses = texts.hits, texts.misses
    batched = engine.text_to_image_batch(specs)
    assert (texts.hits, texts.misses) == (hits, misses)  # ... but a batch encodes in one call
    for spec, out in zip(specs, batched, strict=True):
        assert _largest_difference(out.images, eager.text_to_image(spec).images) <= 1
    repeat = engine.text_to_image_batch(specs)
    assert _largest_difference(repeat[0].images, batched[0].images) == 0


def test_a_run_with_lora_adapters_goes_back_to_the_separate_projections(engine: Engine) -> None:
    """LoRA adapters patch the query, key and value projections one by one, which a fused
    projection would bypass: while they are applied, the model's own processors run."""
    from sfumato.engine import fast_paths

    pipeline = engine.pipelines.get(engine.catalog.resolve("tiny-sd15"))  # type: ignore[arg-type]

    def processors() -> set[str]:
        return {type(p).__name__ for p in pipeline.unet.attn_processors.values()}

    with fast_paths.running(pipeline, engine.pipelines.fast, adapters=True):
        assert processors() == {"AttnProcessor2_0"}
    assert processors() == {"FusedAttnProcessor2_0"}
    with fast_paths.running(pipeline, engine.pipelines.fast, adapters=True):  # and again
        assert processors() == {"AttnProcessor2_0"}


def test_fast_quality_mode_reuses_the_deep_features(
    catalog: Catalog, tiny_models_dir: Path, eager: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers.models.unets.unet_2d_blocks import UNetMidBlock2DCrossAttn

    calls = []
    forward = UNetMidBlock2DCrossAttn.forward

    def counted(self: object, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return forward(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(UNetMidBlock2DCrossAttn, "forward", counted)
    fast = Engine(catalog, tiny_models_dir, device=DEVICE, max_loaded=1, fast=replace(EAGER, feature_reuse=3))
    spec = make_spec(width=128, height=128, steps=8)
    out = fast.text_to_image(spec)
    assert len(calls) == 3  # steps 0, 3 and 6 of 8 run the middle block
    assert out.lineage["feature_reuse"] == 3
    calls.clear()
    plain = eager.text_to_image(spec)
    assert len(calls) == 9  # the default PNDM sampler calls the UNet once more than it has steps
    assert out.images[0].size == (128, 128)
    assert _largest_difference(out.images, plain.images) > 1  # a different picture: opt-in only
    calls.clear()
    fast.text_to_image(spec)
    assert len(calls) == 3  # counted afresh for every run


def test_warm_up_shapes_are_parsed_run_and_skipped_when_unknown(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ValueError, match="MODEL@WIDTHxHEIGHT"):
        Engine(engine.catalog, engine.models_dir, warm_shapes=["tiny-sd15@64"])
    warming = Engine(engine.catalog, engine.models_dir, device=DEVICE,
                     warm_shapes=["tiny-sd15@64x64x2", "no-such-model@64x64"])  # fmt: skip
    with caplog.at_level(logging.WARNING):
        timings = warming.warm_up()
    assert [shape for shape, _ in timings] == ["tiny-sd15@64x64x2"]
    assert "could not warm no-such-model up" in caplog.text


class _Denoiser:
    """A stand-in pipeline: compiling diffusers' tiny UNet on a CPU takes minutes, these
    few kernels seconds, and the cache they go through is the same."""

    def __init__(self) -> None:
        import torch

        self.unet = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.SiLU())
        self.vae = None


@pytest.fixture(scope="module")
def compile_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    import os

    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = default_cache_dir()  # what PyTorch writes there itself
    try:
        yield tmp_path_factory.mktemp("compile-cache")
    finally:
        from torch._inductor.utils import clear_caches

        if before is None:
            os.environ.pop("TORCHINDUCTOR_CACHE_DIR", None)
        else:
            os.environ["TORCHINDUCTOR_CACHE_DIR"] = before
        clear_caches()


def test_compiled_kernels_are_kept_and_used_on_the_next_start(compile_dir: Path) -> None:
    import torch
    from torch._dynamo.utils import counters

    from sfumato.engine import fast_paths

    options = FastPaths(compile=True, compile_dir=compile_dir)
    sample = torch.randn(1, 4, 8, 8)
    outputs = []
    for _start in range(2):  # a start: a fresh model, and dynamo's in-memory caches emptied
        torch._dynamo.reset()
        counters.clear()
        pipeline = _Denoiser()
        torch.manual_seed(0)
        pipeline.unet.apply(lambda m: m.reset_parameters() if hasattr(m, "reset_parameters") else None)
        assert fast_paths.prepare(pipeline, options) == ["channels_last", "compiled"]  # nothing to fuse
        outputs.append(pipeline.unet(sample))
        if _start == 0:
            assert counters["inductor"]["fxgraph_cache_miss"] >= 1
            assert any((compile_dir).rglob("*.py"))  # the generated kernels live under the home
    assert counters["inductor"]["fxgraph_cache_hit"] >= 1
    assert counters["inductor"]["fxgraph_cache_miss"] == 0
    torch.testing.assert_close(outputs[0], outputs[1])
