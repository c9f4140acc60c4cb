"""Keeps a job's lease alive while the engine works on it."""

from __future__ import annotations

import logging
import threading

from sfumato.store import Database, queue

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews a lease every ``interval`` seconds on a background thread.

    ``lost`` turns true when a renewal finds the lease gone (it expired and another
    worker took the job): the current run's results must then be dropped.
    """

    def __init__(
        self, db: Database, *, job_id: str, worker_id: str, lease_seconds: float, interval: float
    ) -> None:
        self._db = db
        self._job_id = job_id
        self._worker_id = worker_id
        self._lease_seconds = lease_seconds
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)
        self.lost = False

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._db.transaction() as session:
                    held = queue.heartbeat(
                        session,
                        job_id=self._job_id,
                        worker_id=self._worker_id,
                        lease_seconds=self._lease_seconds,
                    )
            except Exception:  # a transient database error must not kill the run
                log.exception("heartbeat failed for job %s", self._job_id)
                continue
            if not held:
                self.lost = True
                return
