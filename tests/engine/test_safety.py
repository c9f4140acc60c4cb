"""The safety classifier: scores in [0, 1], a batch classified as each picture alone, a blur."""

from __future__ import annotations

import numpy as np
from PIL import Image

from sfumato.engine import Engine
from sfumato.engine.safety import blurred, classify


def _noise(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def test_a_batch_scores_each_picture_as_alone(engine: Engine) -> None:
    pictures = [_noise(seed) for seed in range(3)] + [Image.new("RGB", (96, 48), (250, 200, 180))]
    together = classify(engine, "tiny-safety", pictures)
    alone = [classify(engine, "tiny-safety", [picture])[0] for picture in pictures]
    assert [v.category for v in together] == ["nsfw"] * 4
    assert all(0.0 < v.score < 1.0 for v in together)
    assert np.allclose([v.score for v in together], [v.score for v in alone], atol=1e-5)
    assert len({round(v.score, 6) for v in together}) > 1  # the pictures, not a constant, decide


def test_a_blurred_picture_keeps_its_size_and_mode_and_loses_its_detail() -> None:
    picture = _noise(1).convert("RGBA")
    soft = blurred(picture)
    assert soft.size == picture.size and soft.mode == "RGBA"
    before, after = (np.asarray(p, dtype=np.int16) for p in (picture, soft))
    assert np.abs(np.diff(after, axis=1)).mean() < np.abs(np.diff(before, axis=1)).mean() / 4
