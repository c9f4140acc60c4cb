"""A pending generation on the terminal: its place in line, then its stage and steps as a bar.

Commands that wait for a job (``sfumato generations replay``) poll the generation's view
and show what its GET carries: ``queued (position N)`` while it waits, then the stage the
worker reports and, while denoising, step k of N on a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from sfumato.service.views import GenerationView


def describe(view: GenerationView) -> tuple[str, int, int | None]:
    """The bar's description, completed steps and total (None: no steps to count)."""
    if view.queue_position is not None:
        return f"queued (position {view.queue_position})", 0, None
    progress = view.progress
    if progress is None:
        return "starting", 0, None
    if progress.total:
        return progress.stage, progress.step, progress.total
    return progress.stage, 0, None


def follow(
    read: Callable[[], GenerationView], *, console: Console, timeout: float, poll_seconds: float
) -> GenerationView | None:
    """Poll ``read`` until the generation is no longer pending, showing its standing; the
    last view, or None when ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("waiting", total=None)
        while True:
            view = read()
            if view.status != "PENDING":
                bar.update(task, description=view.status.lower())
                return view
            description, completed, total = describe(view)
            bar.update(task, description=description, completed=completed, total=total)
            bar.refresh()
            if time.monotonic() > deadline:
                return None
            time.sleep(poll_seconds)
