"""Writes running jobs' progress to their rows at a bounded rate, off the engine's thread.

The engine reports every step; the listener :meth:`ProgressWriter.listener` hands the
engine only records the latest report in memory and returns. A thread of the writer's own
writes what changed, all jobs in one transaction: soon after a job enters a new stage
(a fifth of an interval after the last write at most), otherwise at most once per
``interval`` seconds. A run of many steps therefore costs a few writes, about one per
stage and one per interval, whatever its step count, and the
denoising loop never waits for the database. Writes are guarded by the lease (see
``store.progress``), so only the lease holder's progress lands.

The thread starts with the first report and ends once no run is being followed.

Previews are the exception to the bounded rate: a streaming client waits for each one, and
a run writes at most three. :meth:`ProgressWriter.previews` stores each picture as a blob
and writes it into the progress row at once, on the engine's thread, with the
``generations`` commit signal that wakes the client's wait. Every write of a row, the
thread's or a preview's, carries all previews known when it is made (both write under one
lock), so no write drops one.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sfumato.blobs import BlobStore
from sfumato.engine.report import DENOISING, PreviewSink, Report
from sfumato.jobs.artifacts import Attempt, preview_key
from sfumato.store import Database
from sfumato.store import progress as store

log = logging.getLogger(__name__)

STAGE_GAP = 0.2  # a new stage waits this share of the interval since the last write, at most


@dataclass
class _Latest:
    """A followed job's newest report and whether the row has it yet."""

    lease: int
    progress: store.Progress | None = None
    unwritten: bool = False
    new_stage: bool = False
    previews: list[str] = field(default_factory=list)


class ProgressWriter:
    def __init__(self, db: Database, *, worker_id: str, interval: float = 0.5) -> None:
        self._db = db
        self._worker_id = worker_id
        self._interval = interval
        self._changed = threading.Condition()
        self._jobs: dict[str, _Latest] = {}
        self._thread: threading.Thread | None = None
        self._last_write = -float("inf")
        self._write_lock = threading.Lock()  # one write at a time: each carries every preview known
        self.writes = 0  # transactions written so far (the rate bound is observable)

    def listener(self, jobs: Sequence[tuple[str, int]]) -> Report:
        """The engine's listener for one run of ``jobs`` (id, lease number): a batch's run
        reports once and every job in it gets the report."""
        with self._changed:
            for job_id, lease in jobs:
                self._jobs[job_id] = _Latest(lease)
        ids = [job_id for job_id, _ in jobs]

        def report(stage: str, step: int, total: int, loss: float | None = None) -> None:
            self._note(ids, store.Progress(stage=stage, step=step, total=total, loss=loss))

        return report

    def previews(self, job_id: str, attempt: Attempt, blobs: BlobStore) -> PreviewSink:
        """The engine's preview sink for a run of job ``job_id`` (a job that wants previews
        runs alone): each picture is stored under the attempt's keys and its key written to
        the progress row now."""

        def sink(picture: Any, index: int) -> None:
            with self._changed:
                latest = self._jobs.get(job_id)
            if latest is None or latest.lease != attempt.lease:
                return
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG")
            key = preview_key(attempt, index)
            blobs.put(key, buffer.getvalue(), "image/png")
            with self._changed:
                latest.previews.append(key)
                progress = latest.progress or store.Progress(stage=DENOISING)
            self._write({(job_id, attempt.lease): progress}, signal=True)

        return sink

    def forget(self, job_ids: Collection[str]) -> None:
        """Stop following ``job_ids`` (their run ended; their end is recorded elsewhere)."""
        with self._changed:
            for job_id in job_ids:
                self._jobs.pop(job_id, None)
            self._changed.notify_all()

    def _note(self, job_ids: Sequence[str], progress: store.Progress) -> None:
        with self._changed:
            for job_id in job_ids:
                latest = self._jobs.get(job_id)
                if latest is None or latest.progress == progress:
                    continue
                latest.new_stage |= latest.progress is None or latest.progress.stage != progress.stage
                latest.progress, latest.unwritten = progress, True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
                self._thread.start()
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                reports = self._next_due()
                if reports is None:
                    self._thread = None
                    return
            self._write(reports)

    def _next_due(self) -> dict[tuple[str, int], store.Progress] | None:
        """Wait (holding the condition) until a write is due and take what it writes; None
        when no job is followed any more."""
        while True:
            if not self._jobs:
                return None
            unwritten = {job_id: latest for job_id, latest in self._jobs.items() if latest.unwritten}
            now = time.monotonic()
            new_stage = any(latest.new_stage for latest in unwritten.values())
            due = self._last_write + (self._interval * STAGE_GAP if new_stage else self._interval)
            if unwritten and now >= due:
                self._last_write = now
                reports = {}
                for job_id, latest in unwritten.items():
                    assert latest.progress is not None
                    reports[(job_id, latest.lease)] = latest.progress
                    latest.unwritten = latest.new_stage = False
                return reports
            self._changed.wait(max(due - now, 0.0) if unwritten else None)

    def _write(self, reports: dict[tuple[str, int], store.Progress], *, signal: bool = False) -> None:
        try:
            with self._write_lock:
                with self._changed:  # every preview known now goes with the write
                    reports = {
                        (job_id, lease): replace(progress, previews=tuple(self._jobs[job_id].previews))
                        if job_id in self._jobs
                        else progress
                        for (job_id, lease), progress in reports.items()
                    }
                with self._db.transaction() as session:
                    store.record(session, worker_id=self._worker_id, reports=reports, signal=signal)
            self.writes += 1
        except Exception:  # progress is a courtesy: a failed write must not stop the run
            log.warning("could not record progress of jobs %s", sorted(j for j, _ in reports), exc_info=True)
