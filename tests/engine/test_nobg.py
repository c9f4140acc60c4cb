"""Background removal: RGBA out, colours untouched, alpha = the model's foreground probability."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError
from sfumato.engine.nobg import (
    DEFAULT_SEGMENTER,
    TINY_SEGMENTER,
    _load,
    foreground_probability,
    how_to_obtain,
    is_ready,
    remove_background,
    weights_path,
)


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
    model, processor = _load(weights_path(TINY_SEGMENTER, engine.models_dir), engine.pipelines.device)
    predicted = foreground_probability(model, processor, source)
    assert np.abs(pixels[..., 3].astype(float) - predicted * 255).max() <= 0.5 + 1e-3
    assert pixels[..., 3].std() > 1  # it varies across the picture: it is a prediction, not a constant


def test_a_model_without_coco_thing_labels_is_refused(engine: Engine, tmp_path: Path) -> None:
    remove_background(engine, TINY_SEGMENTER, picture(32, 32))  # builds the tiny model
    copy = tmp_path / "relabelled"
    shutil.copytree(weights_path(TINY_SEGMENTER, engine.models_dir), copy)
    config = json.loads((copy / "config.json").read_text())
    config["id2label"] = {"0": "sky", "1": "wall", "2": "grass", "3": "road"}
    config["label2id"] = {v: int(k) for k, v in config["id2label"].items()}
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(EngineError, match="COCO thing classes"):
        remove_background(engine, str(copy), picture(32, 32))


def test_absent_real_weights_say_where_to_get_them(tmp_path: Path) -> None:
    assert is_ready(TINY_SEGMENTER, tmp_path)
    assert not is_ready(DEFAULT_SEGMENTER, tmp_path)
    assert "facebook/mask2former-swin-tiny-coco-panoptic" in how_to_obtain(DEFAULT_SEGMENTER, tmp_path)
