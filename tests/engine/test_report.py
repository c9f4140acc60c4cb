"""The engine's stages and steps reach whoever listens, and only them."""

from __future__ import annotations

import numpy as np

from sfumato.engine import Engine, report
from sfumato.engine.img2img import image_to_image
from tests.engine.conftest import make_spec
from tests.engine.test_img2img import spec


def _listen() -> tuple[list[tuple[str, int, int]], report.Report]:
    heard: list[tuple[str, int, int]] = []
    return heard, lambda stage, step, total: heard.append((stage, step, total))


def test_text_to_image_reports_every_step_then_decoding(engine: Engine) -> None:
    heard, listener = _listen()
    with report.reporting(listener):
        engine.text_to_image(make_spec(steps=6, seeds=(1, 2)))
    steps = [event for event in heard if event[0] == report.DENOISING]
    total = steps[0][2]  # the UNet passes the scheduler runs: PNDM (tiny-sd15's) adds one
    assert total in (6, 7)
    assert steps == [(report.DENOISING, k, total) for k in range(1, total + 1)]
    assert heard[-1] == (report.DECODING, 0, 0)
    assert set(heard) - set(steps) <= {(report.LOADING, 0, 0), (report.DECODING, 0, 0)}


def test_image_to_image_counts_the_steps_its_strength_runs(engine: Engine) -> None:
    heard, listener = _listen()
    with report.reporting(listener):
        image_to_image(engine, spec(steps=10, strength=0.5))
    steps = [event for event in heard if event[0] == report.DENOISING]
    total = steps[0][2]  # half of the ten steps, as the scheduler counts them
    assert total in (5, 6)
    assert steps == [(report.DENOISING, k, total) for k in range(1, total + 1)]


def test_nobody_listening_hears_nothing_and_pixels_do_not_change(engine: Engine) -> None:
    heard, listener = _listen()
    quiet = engine.text_to_image(make_spec(seeds=(3,)))
    with report.reporting(listener):
        followed = engine.text_to_image(make_spec(seeds=(3,)))
    assert heard
    with report.reporting(listener):
        pass
    report.stage(report.UPLOADING)  # outside the block: no listener
    assert heard[-1] != (report.UPLOADING, 0, 0)
    assert np.array_equal(np.asarray(quiet.images[0]), np.asarray(followed.images[0]))
