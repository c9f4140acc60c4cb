"""Keeps the leases of the jobs a worker is running alive while the engine works on them."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sfumato.store import Database, queue

log = logging.getLogger(__name__)


@dataclass
class Watch:
    """One run's jobs. ``lost`` collects those whose renewal found the lease gone (it expired
    and another worker took the job, or the job was handed back): their results must be dropped."""

    job_ids: frozenset[str]
    due: float  # monotonic time of the next renewal
    lost: set[str] = field(default_factory=set)
    renewing: bool = False


class Heartbeat:
    """Renews the leases of the run being watched every ``interval`` seconds, on a background thread.

    The thread outlives a run, so a worker running job after job starts no thread per job; it
    ends once ``interval`` seconds pass with no run to watch (or at :meth:`close`), and the next
    run starts it again.
    """

    def __init__(self, db: Database, *, worker_id: str, lease_seconds: float, interval: float) -> None:
        self._db = db
        self._worker_id = worker_id
        self._lease_seconds = lease_seconds
        self._interval = interval
        self._changed = threading.Condition()
        self._watch: Watch | None = None
        self._thread: threading.Thread | None = None
        self._closing = False
        self._sleeping_until = math.inf  # monotonic time the thread wakes by itself

    @contextmanager
    def watch(self, job_ids: Collection[str]) -> Iterator[Watch]:
        """Keep ``job_ids``' leases alive until the block ends; the first renewal is due
        ``interval`` seconds from now. Once the block has ended no renewal of them is under
        way, so the watch's ``lost`` is final.

        The thread is woken only when it would otherwise sleep past what it must do: a worker
        runs job after job, and waking it twice a job costs the job a thread switch for nothing.
        """
        watch = Watch(frozenset(job_ids), due=time.monotonic() + self._interval)
        with self._changed:
            self._watch = watch
            self._closing = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
                self._thread.start()
            elif self._sleeping_until > watch.due:
                self._changed.notify_all()
        try:
            yield watch
        finally:
            with self._changed:
                self._watch = None
                if self._sleeping_until == math.inf:  # it would never wake to go idle and end
                    self._changed.notify_all()
                while watch.renewing:
                    self._changed.wait()

    def close(self) -> None:
        """Let the thread end now if no run is being watched (it also ends on its own)."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                watch = self._next_due()
                if watch is None:
                    self._thread = None
                    return
                watch.renewing = True
            try:
                self._renew(watch)
            finally:
                with self._changed:
                    watch.renewing = False
                    watch.due = time.monotonic() + self._interval
                    self._changed.notify_all()

    def _next_due(self) -> Watch | None:
        """Wait (holding the condition) for a watched run's renewal to fall due; None: time to end."""
        idle_until = time.monotonic() + self._interval
        while True:
            watch, now = self._watch, time.monotonic()
            if watch is None:
                if self._closing or now >= idle_until:
                    return None
                self._sleep(idle_until, now)
                continue
            idle_until = now + self._interval
            if not watch.job_ids - watch.lost:
                watch.due = math.inf  # every lease is gone: nothing left to renew
            if now >= watch.due:
                return watch
            self._sleep(watch.due, now)

    def _sleep(self, until: float, now: float) -> None:
        """Wait (holding the condition) until ``until`` or a notification."""
        self._sleeping_until = until
        try:
            self._changed.wait(None if until == math.inf else until - now)
        finally:
            self._sleeping_until = math.inf

    def _renew(self, watch: Watch) -> None:
        watched = watch.job_ids - watch.lost
        try:
            with self._db.transaction() as session:
                held = queue.renew(
                    session, job_ids=watched, worker_id=self._worker_id, lease_seconds=self._lease_seconds
                )
        except Exception:  # a transient database error must not kill the run
            log.exception("heartbeat failed for jobs %s", sorted(watched))
            return
        watch.lost |= watched - held
