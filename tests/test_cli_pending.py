"""A waiting command shows the job's place in line, then its stage and steps on a bar."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console

from sfumato.pending_cli import describe, follow
from sfumato.service.views import GenerationView, ProgressView

NOW = datetime.now(UTC)
PENDING = GenerationView(id="g", user_id="u", status="PENDING", model_id="m", prompt="p",
                         negative_prompt=None,
                         width=64, height=64, num_images=1, steps=10, guidance_scale=7.0, seed=1,
                         scheduler="EULER_DISCRETE", preset_style=None, sd_version=None, tiling=False,
                         public=False, flags={}, credit_cost=1, failure_reason=None, created_at=NOW,
                         updated_at=NOW)  # fmt: skip
QUEUED = replace(PENDING, queue_position=2)
DENOISING = replace(PENDING, progress=ProgressView("denoising", 3, 10))
UPLOADING = replace(PENDING, progress=ProgressView("uploading", 0, 0))
DONE = replace(PENDING, status="COMPLETE")


def test_each_standing_reads_as_a_description_and_a_count() -> None:
    assert describe(QUEUED) == ("queued (position 2)", 0, None)
    assert describe(PENDING) == ("starting", 0, None)
    assert describe(DENOISING) == ("denoising", 3, 10)
    assert describe(UPLOADING) == ("uploading", 0, None)


def test_follow_shows_the_line_then_the_steps_then_the_end() -> None:
    views = iter([QUEUED, DENOISING, UPLOADING, DONE])
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    last = follow(lambda: next(views), console=console, timeout=10, poll_seconds=0)
    assert last is DONE
    shown = out.getvalue()
    for text in ("queued (position 2)", "denoising", "3/10", "uploading", "complete"):
        assert text in shown


def test_follow_gives_up_after_its_timeout() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    assert follow(lambda: QUEUED, console=console, timeout=0, poll_seconds=0) is None
