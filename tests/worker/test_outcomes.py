"""A generation that fails for good is refunded and leaves no image behind."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from sfumato.store import credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import GeneratedImage, Generation, Job
from sfumato.worker import outcomes
from tests.worker.conftest import Bench


def _claim(bench: Bench, worker_id: str) -> None:
    with bench.ctx.db.transaction() as session:
        assert queue.claim_batch(session, worker_id=worker_id, lease_seconds=30)


def test_a_job_out_of_attempts_is_refunded_and_its_partial_uploads_removed(bench: Bench) -> None:
    generation_id = bench.submit(num_images=2)
    with bench.ctx.db.transaction() as session:
        session.execute(update(Job).where(Job.generation_id == generation_id).values(max_attempts=1))
    _claim(bench, "doomed")
    # The dying attempt had uploaded one of its two images.
    bench.ctx.blobs.put(outcomes.image_key(generation_id, 0, 1), b"partial", "image/png")
    with bench.ctx.db.transaction() as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert outcomes.reap_expired(bench.ctx.db, bench.ctx.blobs) == 1
    assert not bench.ctx.blobs.exists(outcomes.image_key(generation_id, 0, 1))
    assert bench.generation(generation_id).status == "FAILED"
    with bench.ctx.db.read() as session:
        kinds = [entry.kind for entry in credits.entries_for(session, subject_id=generation_id)]
    assert kinds == ["debit", "refund"]


def test_a_failed_attempt_with_retries_left_removes_its_uploads_and_the_retry_writes_its_own(
    bench: Bench,
) -> None:
    generation_id = bench.submit()
    _claim(bench, "w")
    bench.ctx.blobs.put(outcomes.image_key(generation_id, 0, 1), b"partial", "image/png")
    assert outcomes.fail(bench.ctx.db, job_id=bench.job(generation_id).id, worker_id="w", reason="oom",
                         retry=True, lease=1, blobs=bench.ctx.blobs)  # fmt: skip
    assert bench.job(generation_id).state == "queued"
    assert not bench.ctx.blobs.exists(outcomes.image_key(generation_id, 0, 1))
    assert bench.worker().run_once()
    [image] = bench.generation(generation_id).images
    assert image.blob_key == outcomes.image_key(generation_id, 0, 2)
    assert bench.ctx.blobs.get(image.blob_key).startswith(b"\x89PNG")


def _stored(generation_id: str) -> outcomes.Artifact:
    key = outcomes.image_key(generation_id, 0, 1)
    return outcomes.Artifact(type="image", position=0, seed=1, blob_key=key, content_type="image/png",
                             width=64, height=64, size_bytes=6, sha256="0" * 64)  # fmt: skip


def test_a_completion_adds_its_images_to_the_generation_and_settles_the_job(bench: Bench) -> None:
    generation_id = bench.submit()
    _claim(bench, "w")
    bench.ctx.blobs.put(outcomes.image_key(generation_id, 0, 1), b"pixels", "image/png")
    completion = outcomes.complete(bench.ctx.db, job_id=bench.job(generation_id).id, worker_id="w", lease=1,
                                   artifacts=[_stored(generation_id)], lineage={"steps": 10},
                                   blobs=bench.ctx.blobs)  # fmt: skip
    assert completion is outcomes.Completion.RECORDED
    generation = bench.generation(generation_id)
    assert generation.status == "COMPLETE"
    assert [image.blob_key for image in generation.images] == [outcomes.image_key(generation_id, 0, 1)]
    assert generation.lineage == {"steps": 10, "attempts": 1, "worker": "w"}
    assert bench.job(generation_id).state == queue.SUCCEEDED


def test_a_generation_gone_while_its_job_ran_cancels_the_job_and_removes_the_outputs(bench: Bench) -> None:
    generation_id = bench.submit()
    _claim(bench, "w")
    job_id = bench.job(generation_id).id
    bench.ctx.blobs.put(outcomes.image_key(generation_id, 0, 1), b"pixels", "image/png")
    with bench.ctx.db.transaction() as session:
        session.execute(delete(Generation).where(Generation.id == generation_id))
    completion = outcomes.complete(
        bench.ctx.db, job_id=job_id, worker_id="w", lease=1, artifacts=[_stored(generation_id)], lineage={},
        blobs=bench.ctx.blobs,
    )  # fmt: skip
    assert completion is outcomes.Completion.DELETED
    assert not bench.ctx.blobs.exists(outcomes.image_key(generation_id, 0, 1))
    with bench.ctx.db.read() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.state == queue.CANCELLED
        assert session.scalars(select(GeneratedImage)).all() == []
