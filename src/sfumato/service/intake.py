"""The intake: one thread that records submitted generations, a group per transaction.

Requests hand their :class:`~sfumato.store.intake.Submission` to the intake and wait
on a future. The intake's thread takes everything waiting, writes it in one
transaction and resolves the futures once it has committed; while it commits, the
next group gathers. Under load this turns a BEGIN, a COMMIT and a thread hand-off per
request into one per group, and requests never wait for each other's transactions in
the event loop. A group is as large as what arrived during the previous commit, so a
single request goes straight through.
"""

from __future__ import annotations

import asyncio
import logging
import queue as queues
import threading
from collections.abc import Callable
from concurrent.futures import Future

from sfumato.store import Database
from sfumato.store.intake import Accepted, Outcome, Submission, write_group

log = logging.getLogger(__name__)

MAX_GROUP = 128  # submissions per transaction, at most
_STOP = None


class Intake:
    def __init__(self, db: Database, *, on_commit: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._on_commit = on_commit
        self._waiting: queues.SimpleQueue[tuple[Submission, Future[Outcome]] | None] = queues.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, submission: Submission) -> Future[Outcome]:
        """Queue ``submission`` for the next group; the future holds its outcome once committed."""
        self._ensure_started()
        future: Future[Outcome] = Future()
        self._waiting.put((submission, future))
        return future

    async def record(self, submission: Submission) -> Outcome:
        """:meth:`submit` for a coroutine: wait for the outcome without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(submission))

    def close(self) -> None:
        """Write what is waiting, then stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._waiting.put(_STOP)
            thread.join(timeout=30)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sfumato-intake", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._waiting.get()
            if first is _STOP:
                return
            group = [first]
            stopping = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._waiting.get_nowait()
                except queues.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            self._write(group)
            if stopping:
                return

    def _write(self, group: list[tuple[Submission, Future[Outcome]]]) -> None:
        live = [(submission, future) for submission, future in group if future.set_running_or_notify_cancel()]
        if not live:
            return  # every request in the group went away before it was written
        submissions = [submission for submission, _ in live]
        futures = [future for _, future in live]
        try:
            with self._db.transaction() as session:
                outcomes = write_group(session, submissions)
        except Exception as exc:  # the group's transaction failed: every member fails with it
            log.exception("recording %d submitted generations failed", len(submissions))
            for future in futures:
                future.set_exception(exc)
            return
        for future, outcome in zip(futures, outcomes, strict=True):
            future.set_result(outcome)
        if any(isinstance(outcome, Accepted) and not outcome.duplicate for outcome in outcomes):
            self._on_commit()
