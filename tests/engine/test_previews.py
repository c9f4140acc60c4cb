"""Which steps of a run are decoded as previews."""

from __future__ import annotations

from sfumato.engine.report import preview_steps


def test_previews_are_evenly_spaced_before_the_last_step() -> None:
    assert preview_steps(2, 6) == [2, 4]
    assert preview_steps(3, 8) == [2, 4, 6]
    assert preview_steps(1, 10) == [5]


def test_a_short_run_gives_fewer_previews_never_its_last_step_twice() -> None:
    assert preview_steps(3, 3) == [1, 2]
    assert preview_steps(2, 1) == [1]
