"""Background removal: RGBA out, colours untouched, alpha = the model's foreground probability."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Catalog, Engine, EngineError
from sfumato.engine.catalog import SEGMENTER_FAMILY
from sfumato.engine.nobg import foreground_probability, remove_background

TINY_SEGMENTER = "tiny-mask2former"


def picture(width: int = 100, height: int = 72) -> Image.Image:
    pixels = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def test_alpha_is_the_models_foreground_probability(engine: Engine) -> None:
    source = picture()
    output = remove_background(engine, TINY_SEGMENTER, source)
    cut = output.images[0]
    assert cut.mode == "RGBA" and cut.size == source.size
    pixels = np.asarray(cut)
    assert np.array_equal(pixels[..., :3], np.asarray(source))
    loaded = engine.pipelines.get(engine.catalog.require(TINY_SEGMENTER, SEGMENTER_FAMILY))
    predicted = foreground_probability(loaded.model, loaded.processor, source)
    assert np.abs(pixels[..., 3].astype(float) - predicted * 255).max() <= 0.5 + 1e-3
    assert pixels[..., 3].std() > 1  # it varies across the picture: it is a prediction, not a constant


def test_a_model_without_coco_thing_labels_is_refused(engine: Engine, tmp_path: Path) -> None:
    remove_background(engine, TINY_SEGMENTER, picture(32, 32))  # builds the tiny model
    copy = tmp_path / "relabelled"
    shutil.copytree(engine.models_dir / TINY_SEGMENTER, copy)
    config = json.loads((copy / "config.json").read_text())
    config["id2label"] = {"0": "sky", "1": "wall", "2": "grass", "3": "road"}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (copy / "config.json").write_text(json.dumps(config))
    relabelled = Engine(Catalog.load(paths={SEGMENTER_FAMILY: str(copy)}), engine.models_dir, device="cpu")
    with pytest.raises(EngineError, match="COCO thing classes"):
        remove_background(relabelled, str(copy), picture(32, 32))


def test_absent_real_weights_say_where_to_get_them(catalog: Catalog, tmp_path: Path) -> None:
    tiny, real = catalog.resolve(TINY_SEGMENTER), catalog.resolve("mask2former-coco")
    assert tiny is not None and real is not None and real.family == SEGMENTER_FAMILY
    assert catalog.is_ready(tiny, tmp_path) and not catalog.is_ready(real, tmp_path)
    assert "facebook/mask2former-swin-tiny-coco-panoptic" in catalog.how_to_obtain(real)
    (tmp_path / "mask2former-coco").mkdir()
    (tmp_path / "mask2former-coco" / "config.json").write_text("{}")
    assert catalog.is_ready(real, tmp_path)
