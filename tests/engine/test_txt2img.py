"""Text-to-image through the Engine on tiny models: sizes, seeds, batches, schedulers, tiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sfumato.engine import Catalog, Engine, EngineError
from sfumato.engine.schedulers import scheduler_names
from sfumato.engine.weights import weights_fingerprint
from tests.engine.conftest import DEVICE, make_spec

pytestmark = pytest.mark.usefixtures("one_thread")


def _pixels(image: object) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


@pytest.mark.parametrize(("width", "height"), [(64, 64), (64, 96), (96, 64)])
def test_output_has_the_requested_size(engine: Engine, width: int, height: int) -> None:
    out = engine.text_to_image(make_spec(width=width, height=height))
    assert [image.size for image in out.images] == [(width, height)]
    assert out.images[0].mode == "RGB"


def test_same_seed_gives_identical_pixels(engine: Engine) -> None:
    first = engine.text_to_image(make_spec(seeds=(7,)))
    second = engine.text_to_image(make_spec(seeds=(7,)))
    assert np.array_equal(_pixels(first.images[0]), _pixels(second.images[0]))


def test_different_seeds_give_different_pixels(engine: Engine) -> None:
    a = engine.text_to_image(make_spec(seeds=(1,)))
    b = engine.text_to_image(make_spec(seeds=(2,)))
    assert not np.array_equal(_pixels(a.images[0]), _pixels(b.images[0]))


def test_three_seeds_give_three_distinct_images(engine: Engine) -> None:
    out = engine.text_to_image(make_spec(seeds=(11, 12, 13)))
    assert out.seeds == [11, 12, 13]
    assert len(out.images) == 3
    pixels = [_pixels(image).tobytes() for image in out.images]
    assert len(set(pixels)) == 3


def test_batched_images_match_single_runs(engine: Engine) -> None:
    # Batching changes float rounding (GEMM blocking), so allow one uint8 level.
    seeds = (21, 22, 23)
    batch = engine.text_to_image(make_spec(seeds=seeds, width=96, height=96))
    for seed, image in zip(seeds, batch.images, strict=True):
        alone = engine.text_to_image(make_spec(seeds=(seed,), width=96, height=96))
        difference = np.abs(_pixels(image) - _pixels(alone.images[0]))
        assert difference.max() <= 1


@pytest.mark.parametrize("scheduler", [None, *scheduler_names()])
def test_every_scheduler_runs(engine: Engine, scheduler: str | None) -> None:
    out = engine.text_to_image(make_spec(scheduler=scheduler, seeds=(3, 4)))
    assert len(out.images) == 2
    assert out.lineage["scheduler_name"] == scheduler
    assert str(out.lineage["scheduler"]).endswith("Scheduler")


def test_schedulers_change_the_output(engine: Engine) -> None:
    ddim = engine.text_to_image(make_spec(scheduler="DDIM"))
    euler = engine.text_to_image(make_spec(scheduler="EULER_DISCRETE"))
    assert not np.array_equal(_pixels(ddim.images[0]), _pixels(euler.images[0]))


def test_requested_scheduler_does_not_stick(engine: Engine, catalog: Catalog) -> None:
    entry = catalog.resolve("tiny-sd15")
    assert entry is not None
    engine.text_to_image(make_spec(scheduler="DDIM"))
    assert type(engine.pipelines.get(entry).scheduler).__name__ == "PNDMScheduler"
    out = engine.text_to_image(make_spec())
    assert out.lineage["scheduler"] == "PNDMScheduler"


def test_tiling_changes_the_output_and_is_undone(engine: Engine) -> None:
    plain = engine.text_to_image(make_spec())
    tiled = engine.text_to_image(make_spec(tiling=True))
    assert not np.array_equal(_pixels(plain.images[0]), _pixels(tiled.images[0]))
    assert tiled.lineage["tiling"] is True
    again = engine.text_to_image(make_spec())
    assert np.array_equal(_pixels(plain.images[0]), _pixels(again.images[0]))


@pytest.mark.parametrize(("key", "steps", "guidance"), [("tiny-sdxl", 4, 5.0), ("tiny-sd-turbo", 1, 0.0)])
def test_other_families_run(engine: Engine, key: str, steps: int, guidance: float) -> None:
    out = engine.text_to_image(
        make_spec(model_key=key, steps=steps, guidance_scale=guidance, width=64, height=96, seeds=(5, 6))
    )
    assert [image.size for image in out.images] == [(64, 96), (64, 96)]
    assert not np.array_equal(_pixels(out.images[0]), _pixels(out.images[1]))


def test_lineage_records_what_reproduces_the_run(engine: Engine, tiny_models_dir: Path) -> None:
    out = engine.text_to_image(make_spec(seeds=(1, 2)))
    lineage = out.lineage
    assert lineage["model_key"] == "tiny-sd15"
    assert lineage["weights_hash"] == weights_fingerprint(tiny_models_dir / "tiny-sd15")
    assert len(str(lineage["weights_hash"])) == 16
    assert lineage["scheduler"] == "PNDMScheduler"
    assert (lineage["steps"], lineage["guidance_scale"], lineage["batch_size"]) == (4, 7.0, 2)
    assert lineage["device"] == DEVICE
    assert lineage["dtype"] == ("float16" if DEVICE.startswith("cuda") else "float32")
    for library in ("torch", "diffusers", "transformers"):
        assert lineage[f"{library}_version"] not in ("", "unknown")


def test_model_can_be_named_by_uuid_or_alias(engine: Engine, catalog: Catalog) -> None:
    entry = catalog.resolve("tiny-sd15")
    assert entry is not None
    by_key = engine.text_to_image(make_spec())
    by_id = engine.text_to_image(make_spec(model_key=entry.id))
    assert np.array_equal(_pixels(by_key.images[0]), _pixels(by_id.images[0]))
    aliased = Engine(
        Catalog.load(aliases={"b24e16ff-06e3-43eb-8d33-4416c2d75876": "tiny-sd15"}),
        engine.models_dir,
        device=DEVICE,
    )
    by_alias = aliased.text_to_image(make_spec(model_key="b24e16ff-06e3-43eb-8d33-4416c2d75876"))
    assert by_alias.lineage["model_key"] == "tiny-sd15"


def test_warm_loads_the_model(catalog: Catalog, tiny_models_dir: Path) -> None:
    fresh = Engine(catalog, tiny_models_dir, device=DEVICE)
    assert fresh.loaded_models() == []
    fresh.warm("tiny-sd-turbo")
    assert fresh.loaded_models() == ["tiny-sd-turbo"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_key": "no-such-model"}, "unknown model"),
        ({"scheduler": "WARP_DRIVE"}, "unknown scheduler"),
        ({"steps": 0}, "steps must be between 1 and 60"),
        ({"steps": 61}, "steps must be between 1 and 60"),
        ({"model_key": "tiny-sd-turbo", "steps": 11}, "between 1 and 10"),
        ({"width": 70}, "width 70 must be a positive multiple of 8"),
        ({"height": 0}, "height 0"),
        ({"seeds": ()}, "at least one seed"),
        ({"seeds": (-1,)}, "outside"),
        ({"guidance_scale": -1.0}, "negative"),
    ],
)
def test_bad_requests_raise_engine_error(engine: Engine, changes: dict[str, object], message: str) -> None:
    with pytest.raises(EngineError, match=message):
        engine.text_to_image(make_spec(**changes))


def test_missing_weights_say_how_to_get_them(catalog: Catalog, tmp_path: Path) -> None:
    offline = Engine(catalog, tmp_path, device=DEVICE)
    with pytest.raises(EngineError, match=r"sfumato models pull sd15"):
        offline.text_to_image(make_spec(model_key="sd15"))
    with pytest.raises(EngineError, match=r"sfumato models pull sdxl"):
        offline.warm("b24e16ff-06e3-43eb-8d33-4416c2d75876")
