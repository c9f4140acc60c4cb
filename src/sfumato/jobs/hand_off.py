"""Realtime jobs handed straight to the worker that shares the waiting server's process.

The request, its charge and its job are recorded in the ledger exactly as for any worker
(admission, one transaction); what the hand-off adds lives only beside that record, and only
for speed:

* the **pictures**, already decoded by the service, so the worker reads no blob and decodes
  no PNG (they are stored all the same, so any worker can run the job after a restart or
  when another one takes it first);
* **which job** to run: the worker claims it by id under a lease, at once, instead of
  running the general claim query after a wake-up;
* the **output**: the worker hands the PNG back in memory while the ledger records the
  request's completion, so no blob is written to be read and deleted right after.

A hand-off is a hint. If another worker claims the job first, if the account is at its
concurrency cap, or if anything else goes wrong, the hand-off ends with ``None`` and the
waiter falls back to the general way (the commit signal and the request's row).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass
class HandedJob:
    """One job handed over: its decoded pictures and where its output PNG goes (None: not here)."""

    job_id: str
    pictures: Mapping[str, Image]
    result: Future[bytes | None] = field(default_factory=Future)
    ready: bool = False  # the job's row is committed: the worker may claim it


class HandOffs:
    """The jobs handed to one in-process worker, by job id; used from any thread."""

    def __init__(self, wake: threading.Event | None = None) -> None:
        self._jobs: dict[str, HandedJob] = {}
        self._lock = threading.Lock()
        self._wake = wake

    def reserve(self, job_id: str, pictures: Mapping[str, Image]) -> HandedJob:
        """Announce a job about to be admitted, so that a worker claiming it by the general
        query still runs it from ``pictures`` and hands its output back."""
        handed = HandedJob(job_id=job_id, pictures=dict(pictures))
        with self._lock:
            self._jobs[job_id] = handed
        return handed

    def ready(self, job_id: str) -> None:
        """The job's row is committed: the worker claims it by id at its next look (woken now)."""
        with self._lock:
            handed = self._jobs.get(job_id)
            if handed is not None:
                handed.ready = True
        if self._wake is not None:
            self._wake.set()

    def withdraw(self, job_id: str) -> None:
        """Forget the job (its waiter is gone or done); a run in progress finds no one to hand to."""
        with self._lock:
            handed = self._jobs.pop(job_id, None)
        if handed is not None and not handed.result.done():
            handed.result.cancel()

    def to_claim(self) -> list[tuple[str, bool]]:
        """The handed jobs no claim of this worker has taken yet, oldest first, each with whether
        its row is known to be committed (one that is not may be, already: the commit's wake-up
        can reach the worker before the service marks it ready)."""
        with self._lock:
            return [(job_id, handed.ready) for job_id, handed in self._jobs.items()]

    def take(self, job_id: str) -> HandedJob | None:
        """The hand-off of a job this worker claimed, removed from the ones to claim."""
        with self._lock:
            return self._jobs.pop(job_id, None)

    @staticmethod
    def end(handed: HandedJob, png: bytes | None) -> None:
        """Tell the waiter: the output (its completion recorded), or None (look at the row)."""
        if not handed.result.done():
            with contextlib.suppress(InvalidStateError):  # cancelled meanwhile: the waiter is gone
                handed.result.set_result(png)
