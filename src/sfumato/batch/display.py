"""The run as people watch it: a bar over the lines, and counts of where they are.

Submitted, queued, running (sfumato says which: ``queuePosition`` / ``progress``; other
servers say only PENDING, counted as queued), done, failed, credits spent, the rate of
finished lines and the time left at that rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@dataclass
class Tally:
    total: int
    done: int = 0
    failed: int = 0
    submitted: int = 0
    credits: int = 0
    skipped: int = 0  # finished by an earlier run
    waiting: tuple[str, float] = ("", 0.0)  # why requests are paused, and until when (monotonic)
    states: dict[str, str] = field(default_factory=dict)  # line id -> queued | running, while pending
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def rate(self) -> float:
        """Lines finished per second by this run (not counting those an earlier run finished)."""
        elapsed = time.monotonic() - self.started
        return (self.finished - self.skipped) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        queued = sum(1 for state in self.states.values() if state == "queued")
        running = len(self.states) - queued
        text = (f"submitted {self.submitted}  queued {queued}  running {running}  done {self.done}  "
                f"failed {self.failed}  credits {self.credits}  {self.rate():.2f}/s")  # fmt: skip
        why, until = self.waiting
        left = until - time.monotonic()
        return text + (f"  [yellow]waiting {left:.0f}s: {why}[/yellow]" if left > 0 else "")

    def wait(self, why: str, seconds: float) -> None:
        self.waiting = (why, time.monotonic() + seconds)


class Display:
    def __init__(self, tally: Tally, console: Console | None = None) -> None:
        self.tally = tally
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, refresh_per_second=4,
        )  # fmt: skip
        self._task = self._progress.add_task("batch", total=tally.total, completed=tally.finished, counts="")

    def __enter__(self) -> Display:
        self._progress.start()
        self.refresh()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.refresh()
        self._progress.stop()

    def waiting(self, why: str, seconds: float) -> None:
        self.tally.wait(why, seconds)
        self.refresh()

    def refresh(self) -> None:
        self._progress.update(self._task, completed=self.tally.finished, counts=self.tally.line())
