"""Previews: which steps of a run are decoded, and what the decode gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sfumato.engine import Engine, report
from sfumato.engine.report import preview_steps
from tests.engine.conftest import make_spec


def test_previews_are_evenly_spaced_before_the_last_step() -> None:
    assert preview_steps(2, 6) == [2, 4]
    assert preview_steps(3, 8) == [2, 4, 6]
    assert preview_steps(1, 10) == [5]


def test_a_short_run_gives_fewer_previews_never_its_last_step_twice() -> None:
    assert preview_steps(3, 3) == [1, 2]
    assert preview_steps(2, 1) == [1]


@pytest.mark.parametrize("model_key", ["tiny-sd15", "tiny-sdxl", "tiny-flux-schnell"])
def test_previews_are_the_running_latents_decoded(engine: Engine, model_key: str) -> None:
    taken: list[tuple[int, Any]] = []
    guidance = 0.0 if "flux" in model_key else 7.0  # schnell is distilled to draw without guidance
    spec = make_spec(model_key=model_key, width=64, height=48, steps=6, seeds=(1, 2), previews=2,
                     negative_prompt=None, guidance_scale=guidance)  # fmt: skip
    with report.previewing(lambda picture, index: taken.append((index, picture))):
        output = engine.text_to_image(spec)
    assert [index for index, _ in taken] == [0, 1]
    final = np.asarray(output.images[0], dtype=int)
    distances = []
    for _, picture in taken:
        assert picture.size == (64, 48)
        distances.append(np.abs(np.asarray(picture, dtype=int) - final).mean())
    assert distances[0] > distances[1] > 0  # earlier pictures, closing in on the first result


def test_no_sink_no_previews_and_the_same_pixels(engine: Engine) -> None:
    plain = engine.text_to_image(make_spec())
    with report.previewing(lambda picture, index: None):
        previewed = engine.text_to_image(make_spec(previews=3))
    assert np.array_equal(np.asarray(plain.images[0]), np.asarray(previewed.images[0]))
