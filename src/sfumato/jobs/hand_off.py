"""Realtime jobs handed straight to the worker that shares the waiting server's process.

The request, its charge and its job are recorded in the ledger exactly as for any worker
(admission, one transaction); what the hand-off changes is only how fast that goes:

* the job is **admitted already leased** to this worker (first attempt, lease 1), or not at
  all: when the account has no free concurrency slot the service stores its pictures and
  admits it to the queue instead. No claim query runs and no other worker can take it. It
  is handed over once that admission has committed, and the worker starts on it at once,
  from the claim it holds. (Not while the admission commits: on a CPU, a run and a
  transaction in one interpreter take turns at it, and the run loses more than it gains);
* the **pictures**, already decoded by the service: the worker reads no blob and decodes no
  PNG, and none is stored unless the run fails (the worker stores them then, before the
  failure is recorded, and the attempt is retried the general way). A process that dies
  mid-run leaves a leased job without pictures: once its lease runs out, its retry fails
  and the request is refunded — its caller, in the same process, is gone too;
* the **output** goes back in memory, before the ledger records the completion (which
  follows at once): no blob is written to be read and deleted right after.

If the run fails, its waiter falls back to the general way (the row, the commit signal) and
the job to the queue's retry rules.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sfumato.store.queue import ClaimedJob

if TYPE_CHECKING:
    from PIL.Image import Image


@dataclass
class HandedJob:
    """One job handed over: the claim it was admitted under, its decoded pictures, and where
    its output PNG goes."""

    claim: ClaimedJob
    pictures: Mapping[str, Image]
    result: Future[bytes | None] = field(default_factory=Future)  # None: look at the row
    let_go: threading.Event = field(default_factory=threading.Event)  # the waiter is done with it

    @property
    def job_id(self) -> str:
        return self.claim.id


class HandOffs:
    """The jobs handed to one in-process worker, by job id; used from any thread."""

    def __init__(
        self, *, worker_id: str, lease_seconds: float, wake: threading.Event, idle: threading.Event
    ) -> None:
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._waiting: dict[str, HandedJob] = {}  # not yet taken by the worker, oldest first
        self._running: dict[str, HandedJob] = {}
        self._lock = threading.Lock()
        self._wake = wake
        self._idle = idle
        self._other_work = False  # the worker runs a job that was not handed over

    def available(self) -> bool:
        """Whether a job handed now runs at once (or right after the handed one the worker is
        finishing): nothing else is handed and the worker runs no other job."""
        with self._lock:
            return not self._waiting and not self._other_work

    def working(self, busy: bool) -> None:
        """The worker starts (True) or ends (False) running jobs that were not handed over."""
        with self._lock:
            self._other_work = busy

    def hand(self, claim: ClaimedJob, pictures: Mapping[str, Image]) -> HandedJob:
        """Give the worker a job admitted leased to it; it starts at once."""
        handed = HandedJob(claim=claim, pictures=dict(pictures))
        with self._lock:
            self._waiting[claim.id] = handed
        self._wake.set()
        return handed

    def withdraw(self, job_id: str) -> None:
        """Forget the job (its waiter is gone or done): one not yet run is not run here (its
        lease runs out and the queue's retry rules take it); a run in progress finds no one to
        hand to, and its end is recorded at once."""
        with self._lock:
            handed = self._waiting.pop(job_id, None) or self._running.get(job_id)
        if handed is not None:
            handed.result.cancel()
            handed.let_go.set()

    def next(self) -> HandedJob | None:
        """The oldest job handed over and not yet run; the worker runs it now."""
        with self._lock:
            if not self._waiting:
                return None
            job_id = next(iter(self._waiting))
            handed = self._running[job_id] = self._waiting.pop(job_id)
            return handed

    def running(self, job_id: str) -> HandedJob | None:
        """The hand-off of a job the worker took with :meth:`next` and has not said :meth:`done` to."""
        with self._lock:
            return self._running.get(job_id)

    def done(self, job_id: str) -> None:
        with self._lock:
            self._running.pop(job_id, None)

    def pending(self) -> list[str]:
        """The jobs handed over and not done (empty once every request has its answer)."""
        with self._lock:
            return [*self._waiting, *self._running]

    def settled(self, timeout: float) -> bool:
        """Wait until the worker, having run and recorded what it was handed, waits for work
        again; False if that takes longer than ``timeout`` seconds. (It stops waiting when it
        takes a job, so after an answer this waits for that job's end to be recorded.)"""
        return self._idle.wait(timeout) and not self.pending()

    def close(self) -> None:
        """The worker stops: the jobs not yet run go back to their waiters, who read the row."""
        with self._lock:
            waiting, self._waiting = list(self._waiting.values()), {}
        for handed in waiting:
            self.end(handed, None)

    @staticmethod
    def end(handed: HandedJob, png: bytes | None) -> None:
        """Tell the waiter: the output, or None (look at the row)."""
        if not handed.result.done():
            with contextlib.suppress(InvalidStateError):  # cancelled meanwhile: the waiter is gone
                handed.result.set_result(png)
