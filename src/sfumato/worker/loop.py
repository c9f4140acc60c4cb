"""The worker loop: claim, run, record — until told to stop."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from sfumato.blobs import BlobStore
from sfumato.engine import Engine
from sfumato.engine.errors import EngineError
from sfumato.store import Database, queue
from sfumato.worker import outcomes
from sfumato.worker.heartbeat import Heartbeat
from sfumato.worker.tasks import RUNNERS

log = logging.getLogger(__name__)

REAP_INTERVAL_SECONDS = 5.0


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
    ) -> None:
        self.db = db
        self.engine = engine
        self.blobs = blobs
        self.worker_id = worker_id or default_worker_id()
        self.lease_seconds = lease_seconds
        self.heartbeat_seconds = min(heartbeat_seconds, lease_seconds / 3)
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_reap = 0.0

    def wake(self) -> None:
        """Tell an idle worker that new work was queued (the embedded shape's wake-up)."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # keep serving; the database may be briefly unavailable
                log.exception("worker iteration failed")
                worked = False
            if not worked:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
        log.info("worker %s stopped", self.worker_id)

    def run_once(self) -> bool:
        """Claim and run at most one job; True if one ran."""
        if time.monotonic() - self._last_reap > REAP_INTERVAL_SECONDS:
            self._last_reap = time.monotonic()
            outcomes.reap_expired(self.db)
        with self.db.transaction() as session:
            claimed = queue.claim(session, worker_id=self.worker_id, lease_seconds=self.lease_seconds)
        for job in claimed:
            self._run(job)
        return bool(claimed)

    def _run(self, job: queue.ClaimedJob) -> None:
        log.info("job %s (%s) attempt %d started", job.id, job.kind, job.attempts)
        started = time.perf_counter()
        with Heartbeat(
            self.db,
            job_id=job.id,
            worker_id=self.worker_id,
            lease_seconds=self.lease_seconds,
            interval=self.heartbeat_seconds,
        ) as beat:
            try:
                runner = RUNNERS.get(job.kind)
                if runner is None:
                    raise EngineError(f"this worker cannot run jobs of kind {job.kind!r}")
                images, lineage = runner(self.engine, self.blobs, job.generation_id or job.id, job.payload)
            except EngineError as exc:
                outcomes.fail(self.db, job_id=job.id, worker_id=self.worker_id, reason=str(exc), retry=False)
                log.warning("job %s failed: %s", job.id, exc)
                return
            except Exception as exc:
                reason = f"internal error: {type(exc).__name__}: {exc}"
                outcomes.fail(self.db, job_id=job.id, worker_id=self.worker_id, reason=reason, retry=True)
                log.exception("job %s crashed", job.id)
                return
        if beat.lost:
            log.warning("job %s: lease lost while running; result dropped", job.id)
            return
        lineage = {**lineage, "seconds": round(time.perf_counter() - started, 4)}
        result = outcomes.complete(
            self.db, job_id=job.id, worker_id=self.worker_id, images=images, lineage=lineage
        )
        if result is outcomes.Completion.DELETED:
            for image in images:
                self.blobs.delete(image.blob_key)
            log.info("job %s: generation deleted while running; outputs removed", job.id)
            return
        if result is outcomes.Completion.LEASE_LOST:
            log.warning("job %s: lease lost before completion; result dropped", job.id)
            return
        log.info("job %s complete in %.3fs", job.id, time.perf_counter() - started)
