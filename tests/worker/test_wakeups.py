"""Wake-ups: a queued job starts within milliseconds, not a poll interval, in both shapes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sfumato.store import Database
from sfumato.worker.loop import Worker
from tests.worker.conftest import Bench

LONG_POLL = 30.0  # a worker that only polled would start nothing within a test's patience


@contextmanager
def running(worker: Worker) -> Iterator[Worker]:
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    assert worker.idle.wait(30)  # past start-up: the next thing to wake it must be the new job
    time.sleep(0.2)  # and past the listener's first wake-up
    try:
        yield worker
    finally:
        worker.stop()
        thread.join(timeout=30)


def _wait_for_start(bench: Bench, generation_id: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if bench.job(generation_id).started_at is not None:
            return True
        time.sleep(0.02)
    return False


def _queued_seconds(bench: Bench, generation_id: str) -> float:
    deadline = time.monotonic() + 60
    while bench.generation(generation_id).status == "PENDING" and time.monotonic() < deadline:
        time.sleep(0.05)
    return float(bench.generation(generation_id).lineage["queued_seconds"])


def test_the_in_process_wake_up_starts_a_job_at_once(bench: Bench) -> None:
    with running(bench.worker(poll_seconds=LONG_POLL, listen=False)):
        generation_id = bench.submit()
        assert _queued_seconds(bench, generation_id) < 1.0


def test_a_commit_wakes_a_worker_of_another_process(bench: Bench, database_url: str) -> None:
    # PostgreSQL: NOTIFY. A SQLite file: a datagram to the worker's socket.
    elsewhere = Database(database_url)  # its own connections, as another process would have
    worker = Worker(db=elsewhere, engine=bench.engine, blobs=bench.ctx.blobs, poll_seconds=LONG_POLL)
    try:
        with running(worker):
            generation_id = bench.submit()
            assert _queued_seconds(bench, generation_id) < 1.0
    finally:
        elsewhere.dispose()


def test_a_worker_of_another_process_that_does_not_listen_waits_for_its_poll(
    bench: Bench, database_url: str
) -> None:
    # the control for the test above: the wake-up is the listener's
    elsewhere = Database(database_url)
    worker = Worker(db=elsewhere, engine=bench.engine, blobs=bench.ctx.blobs, poll_seconds=LONG_POLL,
                    listen=False)  # fmt: skip
    try:
        with running(worker):
            generation_id = bench.submit()
            assert not _wait_for_start(bench, generation_id, timeout=1.5)
    finally:
        elsewhere.dispose()
