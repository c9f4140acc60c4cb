"""Video on the tiny models: frames streamed one at a time, seeded, conditioned on pictures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from sfumato.engine import Engine, EngineError, report
from sfumato.engine.video import VideoSpec, generate

LTX = VideoSpec(
    model_key="tiny-ltx-video",
    prompt="a lighthouse at dusk",
    negative_prompt=None,
    width=64,
    height=64,
    frames=17,
    fps=8,
    steps=2,
    guidance_scale=3.0,
    seed=7,
)
RED = Image.new("RGB", (64, 64), (230, 20, 20))
BLUE = Image.new("RGB", (64, 64), (20, 20, 230))


def _clip(engine: Engine, spec: VideoSpec) -> np.ndarray:
    frames: list[np.ndarray] = []
    result = generate(engine, spec, frames.append)
    assert result.frames == len(frames) == spec.frames
    return np.stack(frames)


@pytest.mark.usefixtures("one_thread")
def test_a_clip_has_the_promised_frames_and_the_same_seed_repeats_it(engine: Engine) -> None:
    first = _clip(engine, LTX)
    assert first.shape == (17, 64, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, _clip(engine, LTX))
    assert not np.array_equal(first, _clip(engine, replace(LTX, seed=8)))
    assert not np.array_equal(first, _clip(engine, replace(LTX, prompt="a harbour at noon")))


def test_frames_reach_the_sink_one_at_a_time(engine: Engine) -> None:
    """The sink sees arrays of one frame each, in order, before the run returns."""
    shapes: list[tuple[int, ...]] = []
    generate(engine, replace(LTX, frames=33), lambda frame: shapes.append(frame.shape))
    assert shapes == [(64, 64, 3)] * 33


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(
    ("model_key", "size", "frames"), [("tiny-ltx-video", 64, 9), ("tiny-wan", 32, 9), ("tiny-svd", 64, 6)]
)
def test_the_first_frame_picture_conditions_the_clip(
    engine: Engine, model_key: str, size: int, frames: int
) -> None:
    spec = replace(LTX, model_key=model_key, width=size, height=size, frames=frames, image=RED)
    red = _clip(engine, spec)
    assert np.array_equal(red, _clip(engine, spec))
    assert not np.array_equal(red, _clip(engine, replace(spec, image=BLUE)))


@pytest.mark.usefixtures("one_thread")
def test_an_end_frame_conditions_the_clip(engine: Engine) -> None:
    spec = replace(LTX, frames=9, image=RED, end_image=BLUE)
    assert not np.array_equal(_clip(engine, spec), _clip(engine, replace(spec, end_image=RED)))


def test_svd_motion_bucket_changes_the_motion(engine: Engine) -> None:
    spec = replace(LTX, model_key="tiny-svd", frames=4, image=RED, motion_bucket=10)
    assert not np.array_equal(_clip(engine, spec), _clip(engine, replace(spec, motion_bucket=200)))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"frames": 10}, "8·k \\+ 1"),
        ({"width": 48}, "multiple of 32"),
        ({"frames": 73}, "at most 65"),
        ({"steps": 0}, "steps"),
        ({"model_key": "tiny-svd", "frames": 4}, "needs a first frame"),
        ({"model_key": "tiny-sd15"}, "not a video model"),
        ({"model_key": "tiny-wan", "width": 32, "height": 32, "frames": 9, "end_image": BLUE}, "last frame"),
    ],
)
def test_impossible_clips_are_refused_before_running(
    engine: Engine, changes: dict[str, object], words: str
) -> None:
    with pytest.raises(EngineError, match=words):
        generate(engine, replace(LTX, **changes), lambda _frame: None)  # type: ignore[arg-type]


def test_the_lineage_says_how_to_replay_the_clip(engine: Engine) -> None:
    lineage = generate(engine, replace(LTX, frames=9), lambda _frame: None).lineage
    assert lineage["model_key"] == "tiny-ltx-video" and lineage["seed"] == 7
    assert lineage["frame_count"] == 9 and lineage["fps"] == 8
    assert lineage["scheduler"] == "FlowMatchEulerDiscreteScheduler" and lineage["weights_hash"]


def test_a_clip_reports_its_denoising_steps_and_decoded_chunks(engine: Engine) -> None:
    heard: list[tuple[str, int, int]] = []
    with report.reporting(lambda stage, step, total: heard.append((stage, step, total))):
        generate(engine, replace(LTX, frames=65, steps=3), lambda _frame: None)
    denoising = [(step, total) for stage, step, total in heard if stage == report.DENOISING]
    assert denoising == [(1, 3), (2, 3), (3, 3)]
    # 65 frames are 9 latent frames: three chunks of up to four, then done.
    decoding = [(step, total) for stage, step, total in heard if stage == report.DECODING and total]
    assert decoding == [(0, 3), (1, 3), (2, 3), (3, 3)]
