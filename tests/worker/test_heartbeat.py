"""The heartbeat: renews a run's leases, reports those lost, and serves run after run on one thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from sfumato.store import queue
from sfumato.store.clock import utcnow
from sfumato.worker.heartbeat import Heartbeat
from tests.worker.conftest import Bench


def _eventually(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def _heartbeat_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "heartbeat"}


def _one_kept_one_lost(bench: Bench) -> tuple[str, str]:
    """Two generations whose jobs worker "w" claimed; the second's lease it handed back."""
    kept_generation, lost_generation = bench.submit(seed=1), bench.submit(seed=2)
    with bench.ctx.db.transaction() as session:
        claimed = queue.claim_batch(session, worker_id="w", lease_seconds=5)
        claimed += queue.claim_batch(session, worker_id="w", lease_seconds=5)
    lost = bench.job(lost_generation).id
    assert {job.id for job in claimed} == {bench.job(kept_generation).id, lost}
    with bench.ctx.db.transaction() as session:
        assert queue.hand_back(session, job_ids=[lost], worker_id="w") == 1
    return kept_generation, lost_generation


def test_a_run_keeps_its_leases_and_learns_which_it_lost(bench: Bench) -> None:
    kept_generation, lost_generation = _one_kept_one_lost(bench)
    kept, lost = (bench.job(g).id for g in (kept_generation, lost_generation))

    heartbeat = Heartbeat(bench.ctx.db, worker_id="w", lease_seconds=600, interval=0.02)
    with heartbeat.watch([kept, lost]) as watch:
        _eventually(lambda: watch.lost == {lost}, "the handed-back job is reported lost")
        _eventually(
            lambda: bench.job(kept_generation).lease_expires_at > utcnow() + timedelta(seconds=60),
            "the kept job's lease is renewed for the heartbeat's lease time",
        )
    assert watch.lost == {lost}
    assert bench.job(lost_generation).state == queue.QUEUED  # a lost lease is never renewed
    heartbeat.close()


def test_runs_back_to_back_share_one_thread(bench: Bench) -> None:
    before = _heartbeat_threads()
    heartbeat = Heartbeat(bench.ctx.db, worker_id="w", lease_seconds=60, interval=30)
    with heartbeat.watch(["a"]):
        [thread] = _heartbeat_threads() - before
    with heartbeat.watch(["b"]) as second:
        assert _heartbeat_threads() - before == {thread}
    assert second.lost == set()
    heartbeat.close()
    thread.join(timeout=20)
    assert not thread.is_alive()
    with heartbeat.watch(["c"]):  # closed and ended, it starts again for the next run
        [again] = _heartbeat_threads() - before
        assert again is not thread
    heartbeat.close()


def test_a_run_after_one_that_lost_every_lease_is_renewed(bench: Bench) -> None:
    """A run whose leases are all gone leaves the thread nothing to wake for; the next run's
    renewals must still come (the thread is woken when it would sleep past them)."""
    kept_generation, lost_generation = _one_kept_one_lost(bench)
    kept, lost = (bench.job(g).id for g in (kept_generation, lost_generation))

    heartbeat = Heartbeat(bench.ctx.db, worker_id="w", lease_seconds=600, interval=0.05)
    with heartbeat.watch([lost]) as first:
        _eventually(lambda: first.lost == {lost}, "the handed-back job is reported lost")
    with heartbeat.watch([kept]):
        _eventually(
            lambda: bench.job(kept_generation).lease_expires_at > utcnow() + timedelta(seconds=60),
            "the next run's lease is renewed",
        )
    heartbeat.close()
