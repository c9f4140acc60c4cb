"""Dynamic batching through the worker: one claim, one pipeline call, each job's own result."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from prometheus_client import REGISTRY
from sqlalchemy import update

from sfumato.jobs.kinds import text_to_image
from sfumato.store.models import Job
from tests.worker.conftest import Bench

pytestmark = pytest.mark.usefixtures("one_thread")


def _stored_pixels(bench: Bench, generation_id: str) -> list[np.ndarray]:
    generation = bench.generation(generation_id)
    return [np.asarray(Image.open(io.BytesIO(bench.ctx.blobs.get(image.blob_key))), dtype=np.int16)
            for image in generation.images]  # fmt: skip


def test_queued_jobs_with_one_batch_key_run_as_one_call_with_each_jobs_own_pixels(bench: Bench) -> None:
    ids = [bench.submit(prompt=prompt, seed=seed, num_images=n, width=128, height=128, steps=8)
           for prompt, seed, n in (("a red fox", 1, 1), ("a lighthouse", 5, 2), ("ramen", 9, 1))]  # fmt: skip
    odd_one = bench.submit(prompt="a red fox", steps=9)  # another batch key
    assert bench.worker(batch_size=8).run_once()
    lineages = [bench.generation(g).lineage for g in ids]
    assert [(lin["batch_jobs"], lin["batch_size"], lin["batch_position"]) for lin in lineages] == [
        (3, 4, 0), (3, 4, 1), (3, 4, 3)]  # fmt: skip
    assert bench.generation(odd_one).status == "PENDING"
    for generation_id in ids:
        assert bench.generation(generation_id).status == "COMPLETE"
        spec = text_to_image.KIND.decode(bench.job(generation_id).payload).spec()
        alone = bench.engine.text_to_image(spec)
        stored = _stored_pixels(bench, generation_id)
        assert len(stored) == len(spec.seeds)
        for mine, theirs in zip(stored, alone.images, strict=True):
            assert np.abs(mine - np.asarray(theirs, dtype=np.int16)).max() <= 1


def test_batch_size_one_runs_jobs_one_at_a_time(bench: Bench) -> None:
    first, second = bench.submit(seed=1), bench.submit(seed=2)
    worker = bench.worker(batch_size=1)
    assert worker.run_once()
    assert bench.generation(first).status == "COMPLETE"
    assert bench.generation(second).status == "PENDING"
    assert bench.generation(first).lineage["batch_jobs"] == 1


def test_a_bad_job_fails_alone_and_its_batch_mates_complete(bench: Bench) -> None:
    good, bad = bench.submit(seed=1), bench.submit(seed=2)
    with bench.ctx.db.transaction() as session:  # a payload the engine refuses
        payload = {**bench.job(bad).payload, "seeds": [-1]}
        session.execute(update(Job).where(Job.generation_id == bad).values(payload=payload))
    assert bench.worker(batch_size=8).run_once()
    assert bench.generation(good).status == "COMPLETE"
    failed = bench.generation(bad)
    assert failed.status == "FAILED"
    assert "seed -1" in (failed.failure_reason or "")
    assert bench.job(bad).state == "failed"


def test_the_wait_window_lets_a_batch_fill_with_jobs_that_arrive_meanwhile(bench: Bench) -> None:
    import threading

    first = bench.submit(seed=1)
    arrivals: list[str] = []
    late = threading.Timer(0.2, lambda: arrivals.append(bench.submit(seed=2)))
    late.start()
    assert bench.worker(batch_size=4, batch_wait_seconds=1.5).run_once() == 2
    late.join()
    assert [bench.generation(g).lineage["batch_jobs"] for g in (first, *arrivals)] == [2, 2]


def test_without_a_wait_window_a_lone_job_runs_at_once(bench: Bench) -> None:
    bench.submit(seed=1)
    assert bench.worker(batch_size=4).run_once() == 1


def test_a_batch_whose_worker_died_runs_again_job_by_job_with_its_own_lineage(bench: Bench) -> None:
    from datetime import timedelta

    from sfumato.store import queue
    from sfumato.store.clock import utcnow

    ids = [bench.submit(seed=seed, num_images=n) for seed, n in ((1, 1), (2, 2), (3, 1))]
    with bench.ctx.db.transaction() as session:
        batch = queue.claim_batch(session, worker_id="dead", lease_seconds=30, max_jobs=8)
        assert len(batch) == 3
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    worker = bench.worker(batch_size=8)
    assert [worker.run_once() for _ in ids] == [1, 1, 1]  # the first call reaps, then each runs alone
    lineages = [bench.generation(g).lineage for g in ids]
    assert [(lin["batch_jobs"], lin["batch_size"], lin["batch_position"]) for lin in lineages] == [
        (1, 1, 0), (1, 2, 0), (1, 1, 0)]  # fmt: skip
    assert [bench.job(g).attempts for g in ids] == [2, 2, 2]


def test_a_batchs_ends_are_recorded_together(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> None:
    from sfumato.worker import outcomes

    ids = [bench.submit(seed=seed) for seed in (1, 2, 3)]
    recorded: list[list[str]] = []
    complete_all = outcomes.complete_all

    def counting(db, finished, **options):  # type: ignore[no-untyped-def]
        recorded.append([attempt.job_id for attempt in finished])
        return complete_all(db, finished, **options)

    monkeypatch.setattr(outcomes, "complete_all", counting)
    assert bench.worker(batch_size=8).run_once() == 3
    assert recorded == [[bench.job(g).id for g in ids]]  # one transaction for the three
    assert [bench.generation(g).status for g in ids] == ["COMPLETE"] * 3


def test_a_record_that_fails_holds_back_only_its_own_job(
    bench: Bench, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sfumato.jobs.subjects import GenerationSubject

    good, bad, also_good = (bench.submit(seed=seed) for seed in (1, 2, 3))
    complete = GenerationSubject.complete

    def failing(self, session, job, *args):  # type: ignore[no-untyped-def]
        if job.generation_id == bad:
            raise RuntimeError("the database refused this one")
        return complete(self, session, job, *args)

    monkeypatch.setattr(GenerationSubject, "complete", failing)
    succeeded_before = _jobs_counted("succeeded")
    assert bench.worker(batch_size=8).run_once() == 3
    assert bench.generation(good).status == "COMPLETE"
    assert bench.generation(also_good).status == "COMPLETE"
    assert bench.generation(bad).status == "PENDING"
    assert bench.job(bad).state == "running"  # its lease runs out and it is tried again
    # the batch's transaction rolled back: its first job, recorded again alone, counts once
    assert _jobs_counted("succeeded") - succeeded_before == 2


def _jobs_counted(outcome: str) -> float:
    labels = {"task": text_to_image.NAME, "model": "tiny-sd15", "outcome": outcome}
    return REGISTRY.get_sample_value("sfumato_job_outcomes_total", labels) or 0.0
