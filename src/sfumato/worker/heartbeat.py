"""Keeps the leases of the jobs a worker is running alive while the engine works on them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from sfumato.store import Database, queue

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the leases of ``job_ids`` every ``interval`` seconds on a background thread.

    ``lost`` collects the jobs whose renewal found the lease gone (it expired and another
    worker took the job, or the job was handed back): their results must be dropped.
    """

    def __init__(
        self,
        db: Database,
        *,
        job_ids: Collection[str],
        worker_id: str,
        lease_seconds: float,
        interval: float,
    ) -> None:
        self._db = db
        self._job_ids = set(job_ids)
        self._worker_id = worker_id
        self._lease_seconds = lease_seconds
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self.lost: set[str] = set()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            watched = self._job_ids - self.lost
            if not watched:
                return
            try:
                with self._db.transaction() as session:
                    held = queue.renew(
                        session, job_ids=watched, worker_id=self._worker_id, lease_seconds=self._lease_seconds
                    )
            except Exception:  # a transient database error must not kill the run
                log.exception("heartbeat failed for jobs %s", sorted(watched))
                continue
            self.lost |= watched - held
