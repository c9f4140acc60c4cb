"""The worker loop: claim, run, record — until told to stop.

One iteration claims a batch (up to ``batch_size`` queued jobs sharing a batch key; one
job when batching is off or the job has no key), runs it as one engine call under one
heartbeat, and records each job's outcome on its own, so a job whose lease was lost, or
whose generation was deleted meanwhile, never takes its batch-mates down with it.

An idle worker sleeps until woken by the ``jobs`` commit signal (store/commits.py): at once
for jobs queued in its own process, by PostgreSQL ``NOTIFY`` for jobs queued in others (the
scaled shape) or, as the fallback, by its poll interval.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sfumato.blobs import BlobStore
from sfumato.engine import Engine, report
from sfumato.engine.errors import EngineError
from sfumato.engine.memory import free_memory_bytes
from sfumato.jobs.artifacts import TaskResult
from sfumato.jobs.hand_off import HandedJob, HandOffs
from sfumato.jobs.kinds import realtime as realtime_kind
from sfumato.jobs.registry import KINDS, kind_of
from sfumato.store import Database, commits, queue, workers
from sfumato.worker import outcomes
from sfumato.worker.heartbeat import Heartbeat
from sfumato.worker.progress import ProgressWriter
from sfumato.worker.screening import Screening

log = logging.getLogger(__name__)

REAP_INTERVAL_SECONDS = 5.0
# How long a handed job's end waits for its answer to be sent before it is recorded anyway.
ANSWER_SECONDS = 1.0


@dataclass(frozen=True)
class InMemory:
    """A handed-over realtime job's result: its output PNG went to the waiter rather than a blob."""

    lineage: dict[str, object]
    handed: HandedJob


Outcome = TaskResult | InMemory | BaseException


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        *,
        db: Database,
        engine: Engine,
        blobs: BlobStore,
        worker_id: str | None = None,
        lease_seconds: float = 60.0,
        heartbeat_seconds: float = 10.0,
        poll_seconds: float = 0.5,
        batch_size: int = 1,
        batch_wait_seconds: float = 0.0,
        models: Collection[str] | None = None,
        listen: bool = True,
        keep_warm: Collection[str] = (),
        progress_seconds: float = 0.5,
        screening: Screening | None = None,
    ) -> None:
        """``models`` limits the models this worker runs (None: every catalog model it has
        weights for — pipelines, upscalers and segmenters alike); ``keep_warm`` names models
        to load at start and never evict (the realtime model); ``progress_seconds`` is the
        least time between two writes of running jobs' progress (stage changes aside);
        ``screening`` is the output safety check run on every picture (None: none)."""
        self.db = db
        self.engine = engine
        self.blobs = blobs
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = min(heartbeat_seconds, lease_seconds / 3)
        self.poll_seconds = poll_seconds
        self.batch_size = max(1, batch_size)
        self.batch_wait_seconds = batch_wait_seconds
        self.models = frozenset(models) if models else None
        self.listen = listen
        self.keep_warm = tuple(keep_warm)
        self.screening = screening
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.idle = threading.Event()  # set while waiting for work (tests and benchmarks watch it)
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        self._last_reap = 0.0
        self._last_advertised = 0.0
        self._runnable: frozenset[str] | None = None
        self._heartbeat = Heartbeat(
            db, worker_id=self.worker_id, lease_seconds=lease_seconds, interval=self.heartbeat_seconds
        )
        self.progress = ProgressWriter(db, worker_id=self.worker_id, interval=progress_seconds)
        # Realtime jobs the server of this process hands over (jobs/hand_off.py).
        self.hand_offs = HandOffs(
            worker_id=self.worker_id, lease_seconds=lease_seconds, wake=self._wake, idle=self.idle
        )

    # -- control, from other threads ------------------------------------------------

    def wake(self) -> None:
        """Tell an idle worker that new work may be queued."""
        self._wake.set()

    def stop(self) -> None:
        """Finish the jobs in flight, claim no more, and return from :meth:`run_forever`."""
        self._stop.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def in_flight(self) -> set[str]:
        with self._in_flight_lock:
            return set(self._in_flight)

    def hand_back(self) -> int:
        """Return the jobs in flight to the queue unrun, for another worker (a hurried shutdown).

        Their attempts are not spent. If this worker's run finishes after all, its results
        are dropped and its uploads deleted: the lease it would record them under is gone.
        """
        with self.db.transaction() as session:
            count = queue.hand_back(session, job_ids=self.in_flight(), worker_id=self.worker_id)
        if count:
            log.info("worker %s handed back %d job(s)", self.worker_id, count)
        return count

    # -- the loop -------------------------------------------------------------------

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        self._warm_up()
        unsubscribe = self.db.commits.subscribe(commits.JOBS, lambda _key: self.wake())
        stop_listening = self.db.commits.listen() if self.listen else None
        try:
            while not self._stop.is_set():
                try:
                    worked = self.run_once()
                except Exception:  # keep serving; the database may be briefly unavailable
                    log.exception("worker iteration failed")
                    worked = False
                if not worked:
                    self.idle.set()
                    self._wake.wait(self.poll_seconds)
                    self._wake.clear()
                    self.idle.clear()
        finally:
            unsubscribe()
            if stop_listening is not None:
                stop_listening()
            self._heartbeat.close()
            self.hand_offs.close()
            self.withdraw()
        log.info("worker %s stopped", self.worker_id)

    def _warm_up(self) -> None:
        """Load the ``keep_warm`` models this worker may run and pin them, so their first job
        pays no load and batch work on other models never evicts them."""
        catalog, models_dir = self.engine.catalog, self.engine.models_dir
        for key in self.keep_warm:
            entry = catalog.resolve(key)
            if entry is None or not catalog.is_ready(entry, models_dir):
                log.info("not warming %s: no weights on this machine", key)
                continue
            if self.models is not None and entry.key not in self.models:
                continue
            self.engine.pipelines.pin(entry.key)
            try:
                self.engine.warm(entry.key)
            except EngineError as exc:
                log.warning("could not warm %s: %s", entry.key, exc)
        for shape, seconds in self.engine.warm_up():  # compiled shapes (SFUMATO_COMPILE_WARMUP)
            log.info("warmed %s up in %.1fs", shape, seconds)

    def run_once(self) -> int:
        """Claim and run at most one batch; the number of jobs it ran (0: the queue had none)."""
        jobs = self._claim_handed()  # first: its waiter is timing it
        if not jobs:
            self._housekeeping()
            jobs = self._claim()
        if jobs:
            self._run(jobs)
        return len(jobs)

    def capabilities(self) -> queue.Capabilities:
        """What this worker can run now: its job kinds, its models, the models it holds."""
        loaded = tuple(self.engine.loaded_models())
        return queue.Capabilities(kinds=frozenset(KINDS), models=self.runnable_models(), loaded=loaded)

    def runnable_models(self) -> frozenset[str]:
        """The model keys this worker runs, as of its last look at its weights (each heartbeat);
        the embedded API accepts requests for them before the first advertisement."""
        runnable = self._runnable
        if runnable is None:
            runnable = self._runnable = self._runnable_models()
        return runnable

    def _runnable_models(self) -> frozenset[str]:
        """Catalog models with weights here (tiny ones build on demand), within ``models`` when
        given. Upscalers and segmenters are catalog models too: a variation job's model key
        names one, so only a worker that can load it claims the job."""
        catalog, models_dir = self.engine.catalog, self.engine.models_dir
        keys = {e.key for e in catalog.entries() if e.always_ready or catalog.is_ready(e, models_dir)}
        return frozenset(keys & self.models if self.models is not None else keys)

    def _claim_handed(self) -> list[queue.ClaimedJob]:
        """A job handed over in memory, with the claim it was admitted under (no query: its row
        was written leased to this worker)."""
        handed = self.hand_offs.next()
        return [handed.claim] if handed is not None else []

    def _claim(self) -> list[queue.ClaimedJob]:
        can_run = self.capabilities()
        with self.db.transaction() as session:
            jobs = queue.claim_batch(
                session,
                worker_id=self.worker_id,
                lease_seconds=self.lease_seconds,
                max_jobs=self.batch_size,
                can_run=can_run,
            )
        self._hold(jobs)  # in flight from the claim on: a shutdown meanwhile counts them
        room = self.batch_size - len(jobs)
        if jobs and jobs[0].batch_key and room > 0 and self.batch_wait_seconds > 0:
            # Leases are held while the batch fills; the wait is far shorter than a lease.
            self._stop.wait(self.batch_wait_seconds)
            with self.db.transaction() as session:
                jobs += queue.claim_more(
                    session,
                    worker_id=self.worker_id,
                    lease_seconds=self.lease_seconds,
                    batch_key=jobs[0].batch_key,
                    lane=jobs[0].lane,
                    max_jobs=room,
                    can_run=can_run,
                )
            self._hold(jobs)
        return jobs

    def _hold(self, jobs: Sequence[queue.ClaimedJob]) -> None:
        with self._in_flight_lock:
            self._in_flight.update(job.id for job in jobs)

    def _run(self, jobs: list[queue.ClaimedJob]) -> None:
        ids = [job.id for job in jobs]
        self._hold(jobs)
        handed = any(self.hand_offs.running(job_id) is not None for job_id in ids)
        if not handed:
            self.hand_offs.working(True)
        log.info("running %d job(s): %s", len(jobs), ", ".join(f"{j.id} ({j.kind})" for j in jobs))
        started = time.perf_counter()
        try:
            with self._heartbeat.watch(ids) as beat:
                results = self._execute(jobs)
                if self.screening is not None:
                    results = self.screening.screen(self.engine, self.blobs, self.db, jobs, results)
            seconds = round(time.perf_counter() - started, 4)
            ended: list[tuple[queue.ClaimedJob, Outcome]] = []
            for job, result in zip(jobs, results, strict=True):
                if job.id in beat.lost:
                    outcomes.discard(self.blobs, job)
                    log.warning("job %s: lease lost while running; result dropped, outputs removed", job.id)
                    continue
                ended.append((job, result))
            self._record(ended, seconds)
        finally:
            for job_id in ids:
                self.hand_offs.done(job_id)
            if not handed:
                self.hand_offs.working(False)
            self.progress.forget(ids)
            with self._in_flight_lock:
                self._in_flight.difference_update(ids)

    def _execute(self, jobs: Sequence[queue.ClaimedJob]) -> list[Outcome]:
        kind = kind_of(jobs[0].kind)
        if len(jobs) > 1 and kind is not None and kind.run_batch is not None:
            try:
                attempts = [(outcomes.attempt_of(j), j.payload) for j in jobs]
                with report.reporting(self.progress.listener([(j.id, j.lease) for j in jobs])):
                    return list(kind.run_jobs(self.engine, self.blobs, attempts))
            except Exception:
                log.warning("a batch of %d failed; running its jobs one by one", len(jobs), exc_info=True)
        return [self._execute_one(job) for job in jobs]

    def _execute_one(self, job: queue.ClaimedJob) -> Outcome:
        kind = kind_of(job.kind)
        handed = self.hand_offs.running(job.id)
        if handed is not None:
            return self._execute_handed(handed)
        try:
            if kind is None:
                raise EngineError(f"this worker cannot run jobs of kind {job.kind!r}")
            attempt = outcomes.attempt_of(job)
            with (
                report.reporting(self.progress.listener([(job.id, job.lease)])),
                report.previewing(self.progress.previews(job.id, attempt, self.blobs)),
            ):
                return kind.run_job(self.engine, self.blobs, attempt, job.payload)
        except Exception as exc:
            return exc

    def _execute_handed(self, handed: HandedJob) -> Outcome:
        """Run a handed-over job from its pictures and give the waiter its PNG (None on failure:
        the waiter reads the row). No progress is written: its only reader is the waiter, which
        gets the result itself."""
        kind = realtime_kind.KIND
        try:
            png, lineage = realtime_kind.run_in_memory(
                self.engine, kind.decode(handed.claim.payload), handed.pictures
            )
            if self.screening is not None:
                png, lineage = self.screening.screen_png(
                    self.engine, self.db, handed.claim.account_id, png, lineage
                )
        except Exception as exc:
            with contextlib.suppress(Exception):  # if they cannot be kept, the retry fails and refunds
                realtime_kind.keep_inputs(self.blobs, kind.decode(handed.claim.payload), handed.pictures)
            HandOffs.end(handed, None)
            return exc
        HandOffs.end(handed, png)  # the answer goes out now; the row's end is recorded after it
        # Not while the waiter writes its answer: the two would take turns at the interpreter.
        handed.let_go.wait(ANSWER_SECONDS)
        return InMemory(lineage=lineage, handed=handed)

    def _record(self, ended: list[tuple[queue.ClaimedJob, Outcome]], seconds: float) -> None:
        """Record each attempt's end under its lease; a refused record removes its outputs.
        The attempts that succeeded are recorded together, in one transaction (one by one if
        that fails, so that one bad record does not hold back the others)."""
        finished: list[tuple[queue.ClaimedJob, outcomes.Finished]] = []
        for job, result in ended:
            if isinstance(result, BaseException):
                self._record_failure(job, result)
            else:
                artifacts, lineage = ([], result.lineage) if isinstance(result, InMemory) else result
                lineage = {**lineage, "seconds": seconds, "queued_seconds": round(job.waited_seconds, 4)}
                finished.append((job, outcomes.Finished(job.id, job.lease, artifacts, lineage)))
        if not finished:
            return
        completions: Sequence[outcomes.Completion | None]
        try:
            completions = outcomes.complete_all(
                self.db, [f for _, f in finished], worker_id=self.worker_id, blobs=self.blobs
            )
        except Exception:
            if len(finished) == 1:
                raise
            log.warning("recording %d jobs together failed; recording them one by one", len(finished),
                        exc_info=True)  # fmt: skip
            completions = [self._complete_alone(attempt) for _, attempt in finished]
        for (job, _), completion in zip(finished, completions, strict=True):
            if completion is None:
                continue
            if completion is outcomes.Completion.DELETED:
                log.info("job %s: generation deleted while running; outputs removed", job.id)
            elif completion is outcomes.Completion.LEASE_LOST:
                log.warning("job %s: lease lost before completion; result dropped, outputs removed", job.id)
            else:
                log.info("job %s complete in %.3fs (waited %.3fs)", job.id, seconds, job.waited_seconds)

    def _complete_alone(self, finished: outcomes.Finished) -> outcomes.Completion | None:
        """Record one attempt in its own transaction; None when that fails too (logged): the job
        stays leased until its lease runs out, and is then tried again."""
        try:
            [completion] = outcomes.complete_all(
                self.db, [finished], worker_id=self.worker_id, blobs=self.blobs
            )
        except Exception:
            log.exception("job %s: its end could not be recorded; it runs again once its lease expires",
                          finished.job_id)  # fmt: skip
            return None
        return completion

    def _record_failure(self, job: queue.ClaimedJob, error: BaseException) -> None:
        engine_error = isinstance(error, EngineError)
        reason = str(error) if engine_error else f"internal error: {type(error).__name__}: {error}"
        recorded = outcomes.fail(self.db, job_id=job.id, worker_id=self.worker_id, lease=job.lease,
                                 reason=reason, retry=not engine_error, blobs=self.blobs)  # fmt: skip
        if not recorded:
            log.warning("job %s: lease lost before its failure was recorded; outputs removed", job.id)
        elif engine_error:
            log.warning("job %s failed: %s", job.id, error)
        else:
            log.error("job %s crashed", job.id, exc_info=error)

    # -- housekeeping ---------------------------------------------------------------

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_reap > min(REAP_INTERVAL_SECONDS, self.lease_seconds):
            self._last_reap = now
            outcomes.reap_expired(self.db, self.blobs)
            with self.db.transaction() as session:
                workers.forget_silent(session, older_than_seconds=max(60.0, 3 * self.lease_seconds))
        if now - self._last_advertised > self.heartbeat_seconds:
            self._last_advertised = now
            self._runnable = self._runnable_models()
            self._advertise()

    def _advertise(self) -> None:
        capabilities = self.capabilities()
        device = self.engine.pipelines.device
        ad = workers.Advertisement(
            worker_id=self.worker_id,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            device=device,
            kinds=sorted(capabilities.kinds or ()),
            models=sorted(capabilities.models) if capabilities.models is not None else None,
            loaded_models=list(capabilities.loaded),
            free_memory_bytes=free_memory_bytes(device),
            running_jobs=len(self.in_flight()),
        )
        with self.db.transaction() as session:
            workers.advertise(session, ad)

    def withdraw(self) -> None:
        """Remove this worker's advertisement (it also ages out if the worker dies)."""
        try:
            with self.db.transaction() as session:
                workers.withdraw(session, self.worker_id)
        except Exception:  # the row ages out on its own
            log.warning("could not withdraw worker %s", self.worker_id, exc_info=True)
