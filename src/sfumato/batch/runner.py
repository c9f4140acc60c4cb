"""A batch run: a pool of ``concurrency`` line workers between the files and the API.

Each worker takes the next unfinished line and keeps it until it is done: submits it
(unless the checkpoint already names its job), records the job id at once, waits for it
(webhook or poll), reads it, stores its files and writes its manifest record. A FAILED
job is resubmitted as a new request while ``retry_failed`` allows. At most
``concurrency`` jobs are therefore in flight, and lines a previous run left in flight
are taken first, so their jobs are looked at before anything new is asked for.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfumato.batch import BatchError
from sfumato.batch.checkpoint import Checkpoint, LineProgress
from sfumato.batch.completion import Completion
from sfumato.batch.display import Tally
from sfumato.batch.downloads import store_outputs
from sfumato.batch.http import Api, ApiError
from sfumato.batch.kinds import COMPLETE, JobState, created_job
from sfumato.batch.manifest import Manifest, ManifestRecord, StoredFile
from sfumato.batch.requests import BatchRequest

CHECKPOINT, MANIFEST, LOCK = "checkpoint.jsonl", "manifest.jsonl", ".lock"


@dataclass
class Outcome:
    tally: Tally
    refused: dict[str, str] = field(default_factory=dict)  # line id -> why; left for a re-run


@contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """One run per output directory at a time; the lock dies with its process."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(out_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BatchError(f"another sfumato batch is running with --out {out_dir}") from exc
        yield
    finally:
        os.close(fd)


def pending_lines(requests: list[BatchRequest], out_dir: Path) -> tuple[list[BatchRequest], int]:
    """The lines still to run (those a previous run left in flight first) and how many are done;
    reading both files also checks them before anything is sent."""
    finished = Manifest(out_dir / MANIFEST).load()
    progress = Checkpoint(out_dir / CHECKPOINT).load()
    todo = [request for request in requests if request.id not in finished]
    todo.sort(key=lambda request: (progress.get(request.id) or LineProgress()).job is None)
    return todo, len(requests) - len(todo)


class Runner:
    def __init__(
        self,
        api: Api,
        completion: Completion,
        out_dir: Path,
        *,
        concurrency: int = 8,
        retry_failed: int = 0,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.api = api
        self.completion = completion
        self.out_dir = out_dir
        self.concurrency = concurrency
        self.retry_failed = retry_failed
        self.on_change = on_change
        self.checkpoint = Checkpoint(out_dir / CHECKPOINT)
        self.manifest = Manifest(out_dir / MANIFEST)

    async def run(self, requests: list[BatchRequest], tally: Tally) -> Outcome:
        finished = self.manifest.load()
        progress = self.checkpoint.load()
        outcome = Outcome(tally)
        for record in finished.values():
            if record.status == COMPLETE:
                tally.done += 1
                tally.credits += record.cost or 0
            else:
                tally.failed += 1
        tally.skipped = tally.finished
        tally.submitted = tally.finished + sum(1 for line, state in progress.items()
                                               if state.job and line not in finished)  # fmt: skip
        todo, _ = pending_lines(requests, self.out_dir)
        lines: asyncio.Queue[BatchRequest] = asyncio.Queue()
        for request in todo:
            lines.put_nowait(request)

        refused_key: list[ApiError] = []  # a 401 stops the run: every other line would get one too

        async def worker() -> None:
            while not lines.empty() and not refused_key:
                request = lines.get_nowait()
                try:
                    await self._line(request, progress.get(request.id) or LineProgress(), tally)
                except ApiError as exc:
                    tally.states.pop(request.id, None)
                    if exc.status == 401:
                        refused_key.append(exc)
                    else:
                        outcome.refused[request.id] = f"{request.where}: {exc}"
                self.on_change()

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(todo)))))
        finally:
            self.checkpoint.close()
            self.manifest.close()
        if refused_key:
            raise BatchError(
                f"the server refused the API key ({refused_key[0].message}); nothing more was sent"
            )
        return outcome

    async def _line(self, request: BatchRequest, state: LineProgress, tally: Tally) -> None:
        kind = request.kind
        attempt, job, cost = state.attempt, state.job, state.cost
        failures = list(state.failures or [])
        while True:
            looks = -1 if job is not None else 0  # a job from an earlier run is read at once
            if job is None:
                answer = await self.api.post(
                    kind.path, request.body, idempotency_key=request.idempotency_key(attempt)
                )
                job, cost = created_job(answer)
                self.checkpoint.submitted(request.id, attempt, job, kind.name, cost)
                if attempt == 0:
                    tally.submitted += 1
            tally.states[request.id] = "queued"
            self.on_change()
            result = await self._until_finished(request, job, looks, tally)
            tally.states.pop(request.id, None)
            if result.status == COMPLETE:
                files = await store_outputs(self.api, self.out_dir, request.id, result.outputs)
                self._record(request, job, result, cost, failures, files=files)
                tally.done += 1
                tally.credits += result.cost if result.cost is not None else cost or 0
                return
            if attempt < self.retry_failed:
                self.checkpoint.failed(request.id, attempt, job, kind.name, result.failure_reason)
                failures.append({"attempt": attempt, "job": job, "reason": result.failure_reason})
                attempt, job = attempt + 1, None
                continue
            self._record(request, job, result, cost, failures)
            tally.failed += 1
            return

    async def _until_finished(self, request: BatchRequest, job: str, looks: int, tally: Tally) -> JobState:
        while True:
            if looks >= 0:
                await self.completion.wait(job, looks)
            looks += 1
            result = request.kind.read_state(await self.api.get(request.kind.read_path(job)))
            if result.finished:
                return result
            tally.states[request.id] = "running" if result.running else "queued"
            self.on_change()

    def _record(self, request: BatchRequest, job: str, result: JobState, cost: int | None,
                failures: list[dict[str, Any]], files: list[StoredFile] | None = None) -> None:  # fmt: skip
        self.manifest.write(
            ManifestRecord(
                id=request.id,
                source=request.where,
                kind=request.kind.name,
                generation_id=job,
                status=result.status,
                cost=result.cost if result.cost is not None else cost,
                files=files or [],
                seeds=list(result.seeds),
                lineage=result.lineage,
                failure_reason=result.failure_reason,
                failed_attempts=failures,
            )
        )
