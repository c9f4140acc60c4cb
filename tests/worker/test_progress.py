"""A running job's progress reaches its row, at a bounded rate, and its GET shows it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from sfumato.engine import report
from sfumato.service import generations
from sfumato.service.views import GenerationView
from sfumato.worker.loop import Worker
from tests.worker.conftest import Bench


class Follow:
    """Hears what the worker's engine reports and, with ``step``, holds the engine's thread
    at that denoising step until ``go_on`` is set."""

    def __init__(self, worker: Worker, step: int | None = None) -> None:
        self.step = step
        self.reached = threading.Event()
        self.go_on = threading.Event()
        self.heard: list[tuple[str, int, int]] = []
        make = worker.progress.listener

        def listener(jobs: Sequence[tuple[str, int]]) -> report.Report:
            inner = make(jobs)

            def hear(stage: str, step: int, total: int) -> None:
                inner(stage, step, total)
                self.heard.append((stage, step, total))
                if stage == report.DENOISING and step == self.step:
                    self.reached.set()
                    assert self.go_on.wait(30)

            return hear

        worker.progress.listener = listener  # type: ignore[method-assign]


def _view(bench: Bench, generation_id: str) -> GenerationView:
    return generations.get_generation(bench.ctx, bench.principal, generation_id)


def _step(bench: Bench, generation_id: str) -> int | None:
    progress = _view(bench, generation_id).progress
    return progress.step if progress else None


def _until(check: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def _run_in_background(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_once, daemon=True)
    thread.start()
    return thread


def test_a_paused_run_shows_denoising_step_k_of_n_and_finishes_at_n(bench: Bench) -> None:
    generation_id = bench.submit(steps=12)
    worker = bench.worker(progress_seconds=0.05)
    pause = Follow(worker, step=5)
    thread = _run_in_background(worker)
    assert pause.reached.wait(60)
    _until(lambda: _step(bench, generation_id) == 5)
    view = _view(bench, generation_id)
    assert view.status == "PENDING" and view.queue_position is None
    assert view.progress is not None
    assert (view.progress.stage, view.progress.step) == (report.DENOISING, 5)
    total = view.progress.total
    assert total >= 12
    pause.go_on.set()
    thread.join(60)
    finished = _view(bench, generation_id)
    assert finished.status == "COMPLETE"
    assert finished.progress is None and finished.queue_position is None
    steps = [step for stage, step, _ in pause.heard if stage == report.DENOISING]
    assert steps == list(range(1, total + 1))  # the step reached the total
    assert pause.heard[-1][0] == report.UPLOADING


def test_many_steps_cost_few_writes(bench: Bench) -> None:
    bench.submit(steps=40)
    worker = bench.worker(progress_seconds=30)
    follow = Follow(worker)
    assert worker.run_once() == 1
    assert len([event for event in follow.heard if event[0] == report.DENOISING]) >= 40
    assert worker.progress.writes <= 2  # the first report; the rest waits out the interval


def test_a_batch_reports_for_every_job_in_it(bench: Bench) -> None:
    ids = [bench.submit(steps=10, seed=seed) for seed in (1, 2, 3)]
    worker = bench.worker(batch_size=8, progress_seconds=0.05)
    pause = Follow(worker, step=3)
    thread = _run_in_background(worker)
    assert pause.reached.wait(60)
    for generation_id in ids:
        _until(lambda g=generation_id: _step(bench, g) == 3)  # type: ignore[misc]
        assert bench.job(generation_id).progress is not None
    pause.go_on.set()
    thread.join(60)
    assert {_view(bench, g).status for g in ids} == {"COMPLETE"}


def test_queued_jobs_know_their_place_in_line(bench: Bench) -> None:
    first, second, third = (bench.submit(seed=seed) for seed in (1, 2, 3))
    assert [_view(bench, g).queue_position for g in (first, second, third)] == [1, 2, 3]
    assert _view(bench, second).progress is None
    assert bench.worker(batch_size=1).run_once() == 1
    assert _view(bench, first).queue_position is None
    assert [_view(bench, g).queue_position for g in (second, third)] == [1, 2]


@pytest.mark.databases("sqlite")
def test_only_the_lease_holder_writes_progress(bench: Bench) -> None:
    from sfumato.store import progress, queue

    generation_id = bench.submit()
    job_id = bench.job(generation_id).id
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="holder", lease_seconds=30, max_jobs=1)
    step = progress.Progress(stage=report.DENOISING, step=2, total=4)
    ours, stale = {(job_id, claimed.lease): step}, {(job_id, claimed.lease + 1): step}
    with bench.ctx.db.transaction() as session:
        assert progress.record(session, worker_id="someone-else", reports=ours) == 0
        assert progress.record(session, worker_id="holder", reports=stale) == 0
        assert progress.record(session, worker_id="holder", reports=ours) == 1
    assert _view(bench, generation_id).progress is not None
