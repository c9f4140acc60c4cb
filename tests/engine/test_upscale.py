"""Upscaling: spandrel super-resolution to an exact multiple, and the creative LCM pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Catalog, Engine, EngineError
from sfumato.engine.catalog import UPSCALER_FAMILY
from sfumato.engine.tiny import build_tiny
from sfumato.engine.upscale import CreativePass, UpscaleSpec, target_size, upscale

TINY_UPSCALER = "tiny-esrgan"


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def creative(**changes: object) -> CreativePass:
    fields: dict[str, object] = {
        "model_key": "tiny-lcm",
        "prompt": "a harbour",
        "strength": 0.5,
        "steps": 4,
        "guidance_scale": 8.0,
        "seed": 11,
    }
    fields.update(changes)
    return CreativePass(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("size", "multiplier", "expected"),
    [
        ((64, 48), 2.0, (128, 96)),
        ((64, 48), 1.5, (96, 72)),
        ((40, 24), 4.0, (160, 96)),
        ((30, 10), 1.25, (38, 13)),
    ],
)
def test_output_is_exactly_the_promised_multiple(
    engine: Engine, size: tuple[int, int], multiplier: float, expected: tuple[int, int]
) -> None:
    assert target_size(*size, multiplier) == expected
    output = upscale(engine, UpscaleSpec(image=picture(*size), multiplier=multiplier, upscaler=TINY_UPSCALER))
    assert output.images[0].size == expected
    assert output.lineage["upscaler_architecture"] == "ESRGAN" and output.lineage["upscaler_scale"] == 4


def test_a_picture_wider_than_one_tile_is_upscaled_whole(engine: Engine) -> None:
    output = upscale(engine, UpscaleSpec(image=picture(300, 16), multiplier=4.0, upscaler=TINY_UPSCALER))
    pixels = np.asarray(output.images[0])
    assert pixels.shape == (64, 1200, 3)
    assert pixels[:, 1000:].std() > 0  # the second tile was drawn, not left black


def test_creative_upscale_repaints_tiles_deterministically(engine: Engine, one_thread: None) -> None:
    source = picture(64, 64, seed=5)
    plain = upscale(engine, UpscaleSpec(image=source, multiplier=1.5, upscaler=TINY_UPSCALER))
    first = upscale(
        engine, UpscaleSpec(image=source, multiplier=1.5, upscaler=TINY_UPSCALER, creative=creative())
    )
    again = upscale(
        engine, UpscaleSpec(image=source, multiplier=1.5, upscaler=TINY_UPSCALER, creative=creative())
    )
    assert first.images[0].size == (96, 96)
    assert first.lineage["creative_tiles"] == 4  # 96 px in 64 px tiles with overlap: 2 × 2
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(again.images[0]))
    assert not np.array_equal(np.asarray(first.images[0]), np.asarray(plain.images[0]))


def test_creative_upscale_of_a_size_off_the_8_pixel_grid(engine: Engine) -> None:
    output = upscale(
        engine,
        UpscaleSpec(image=picture(30, 10), multiplier=1.25, upscaler=TINY_UPSCALER, creative=creative()),
    )
    assert output.images[0].size == (38, 13)


def test_the_tiny_upscaler_is_built_deterministically(tmp_path: Path) -> None:
    build_tiny("esrgan", tmp_path / "a" / "tiny-esrgan")
    build_tiny("esrgan", tmp_path / "b" / "tiny-esrgan")
    first, second = (tmp_path / side / "tiny-esrgan" / "tiny-esrgan.safetensors" for side in "ab")
    assert first.read_bytes() == second.read_bytes()


def test_upscalers_are_catalog_models_that_say_where_to_get_their_weights(
    catalog: Catalog, tmp_path: Path
) -> None:
    tiny, real = catalog.resolve(TINY_UPSCALER), catalog.resolve("realesrgan-x4plus")
    assert tiny is not None and real is not None
    assert tiny.family == real.family == UPSCALER_FAMILY and not real.generates_images
    assert catalog.is_ready(tiny, tmp_path) and not catalog.is_ready(real, tmp_path)
    advice = catalog.how_to_obtain(real)
    assert "RealESRGAN_x4plus.pth" in advice and "sfumato models pull realesrgan-x4plus" in advice
    (tmp_path / "realesrgan-x4plus").mkdir()
    (tmp_path / "realesrgan-x4plus" / "RealESRGAN_x4plus.pth").write_bytes(b"weights")
    assert catalog.is_ready(real, tmp_path)


def test_weights_a_setting_names_by_path_become_a_catalog_model(tmp_path: Path) -> None:
    weights = tmp_path / "mine.pth"
    catalog = Catalog.load(paths={UPSCALER_FAMILY: str(weights)})
    entry = catalog.require(str(weights), UPSCALER_FAMILY)
    assert entry.source_kind == "local" and not catalog.is_ready(entry, tmp_path)
    weights.write_bytes(b"weights")
    assert catalog.is_ready(entry, tmp_path)
    with pytest.raises(EngineError, match="family sd15, not esrgan"):
        catalog.require("tiny-sd15", UPSCALER_FAMILY)


def test_weights_that_are_not_an_upscaler_are_refused(tmp_path: Path, tiny_models_dir: Path) -> None:
    bogus = tmp_path / "bogus.pth"
    bogus.write_bytes(b"not a model")
    engine = Engine(Catalog.load(paths={UPSCALER_FAMILY: str(bogus)}), tiny_models_dir, device="cpu")
    with pytest.raises(EngineError, match="cannot load upscaler weights"):
        upscale(engine, UpscaleSpec(image=picture(16, 16), multiplier=2.0, upscaler=str(bogus)))
    with pytest.raises(EngineError, match="multiplier"):
        upscale(engine, UpscaleSpec(image=picture(16, 16), multiplier=0.5, upscaler=TINY_UPSCALER))


def test_detail_contrast_sharpens_the_result(engine: Engine) -> None:
    source = picture(32, 32, seed=9)
    plain = upscale(engine, UpscaleSpec(image=source, multiplier=2.0, upscaler=TINY_UPSCALER))
    sharp = upscale(
        engine, UpscaleSpec(image=source, multiplier=2.0, upscaler=TINY_UPSCALER, detail_contrast=8)
    )
    assert sharp.images[0].size == (64, 64)
    assert np.asarray(sharp.images[0]).astype(int).std() > np.asarray(plain.images[0]).astype(int).std()
