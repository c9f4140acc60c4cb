"""The intake: records submitted generations, a group per transaction (group commit).

A request hands its :class:`~sfumato.store.intake.Submission` to the intake and waits
for the outcome; the intake writes whatever has gathered in one transaction, so under
load a BEGIN and a COMMIT are paid per group rather than per request. Two paths:

* **on the event loop** (:meth:`Intake.record` on SQLite): the submissions of one turn
  of the loop are written right there, after the turn, when the write lock is free.
  SQLite work is CPU, not waiting, so doing it in place costs the loop nothing that a
  thread would not, and it avoids handing every statement's GIL back and forth
  between two threads. If another writer holds the lock, the group goes to the thread
  instead, so the loop never waits for a lock;
* **on the intake's thread** (:meth:`Intake.submit`, and every submission on
  PostgreSQL, whose statements are network round trips): it takes everything waiting,
  writes it and resolves the futures once committed, while the next group gathers.

On both paths, under load (the previous group had company) a group lingers a moment
(:data:`LINGER_SECONDS`) for the requests just behind it, so groups grow with the load
while a lone request still goes straight through.
"""

from __future__ import annotations

import asyncio
import logging
import queue as queues
import threading
import time
from concurrent.futures import Future

from sfumato.store import Database
from sfumato.store.database import WriteLockBusy
from sfumato.store.intake import Accepted, Outcome, Refused, Submission, write_group

log = logging.getLogger(__name__)

MAX_GROUP = 128  # submissions per transaction, at most
# Under load, how long the intake waits for more submissions before writing a group. A
# lone request never waits: lingering starts only after a group of more than one.
LINGER_SECONDS = 0.01
_STOP = None
_TO_THREAD = object()  # the loop could not take the write lock: the thread writes this one


class Intake:
    def __init__(self, db: Database, *, linger: float = LINGER_SECONDS) -> None:
        self._db = db
        self._linger = linger
        self._waiting: queues.SimpleQueue[tuple[Submission, Future[Outcome]] | None] = queues.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._gathered: list[tuple[Submission, asyncio.Future[object]]] = []  # this turn of the loop
        self._loop_busy = False  # whether the loop's last group had company

    def submit(self, submission: Submission) -> Future[Outcome]:
        """Queue ``submission`` for the next group; the future holds its outcome once committed."""
        self._ensure_started()
        future: Future[Outcome] = Future()
        self._waiting.put((submission, future))
        return future

    async def record(self, submission: Submission) -> Outcome:
        """The outcome of ``submission``, for a coroutine: never blocks the event loop."""
        if not self._db.is_sqlite:
            return await asyncio.wrap_future(self.submit(submission))
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        if not self._gathered:
            # After the requests of this turn have joined; under load, a moment later still,
            # so that requests arriving just behind them join too instead of forming a group
            # of their own.
            loop.call_later(self._linger if self._loop_busy else 0, self._write_gathered)
        self._gathered.append((submission, future))
        outcome = await future
        if outcome is _TO_THREAD:
            return await asyncio.wrap_future(self.submit(submission))
        assert isinstance(outcome, Accepted | Refused)
        return outcome

    def _write_gathered(self) -> None:
        group = [(submission, future) for submission, future in self._gathered if not future.cancelled()]
        self._loop_busy = len(self._gathered) > 1
        self._gathered = []
        if not group:
            return  # every request of the turn went away
        try:
            with self._db.transaction_if_free() as connection:
                outcomes: list[object] = list(write_group(connection, [sub for sub, _ in group]))
        except WriteLockBusy:
            outcomes = [_TO_THREAD] * len(group)
        except Exception as exc:  # the group's transaction failed: every member fails with it
            log.exception("recording %d submitted generations failed", len(group))
            for _, future in group:
                future.set_exception(exc)
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            future.set_result(outcome)

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
        busy = False  # whether the last group had company: then the next one lingers to fill
        while True:
            first = self._waiting.get()
            if first is _STOP:
                return
            group: list[tuple[Submission, Future[Outcome]]] = [first]
            stopping = self._drain(group)
            if busy and not stopping and len(group) < MAX_GROUP:
                time.sleep(self._linger)  # under load: let the requests being parsed join
                stopping = self._drain(group)
            busy = len(group) > 1
            self._write(group)
            if stopping:
                return

    def _drain(self, group: list[tuple[Submission, Future[Outcome]]]) -> bool:
        """Move what is waiting into ``group`` (up to :data:`MAX_GROUP`); True if told to stop."""
        while len(group) < MAX_GROUP:
            try:
                item = self._waiting.get_nowait()
            except queues.Empty:
                return False
            if item is _STOP:
                return True
            group.append(item)
        return False

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
