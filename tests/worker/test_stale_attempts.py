"""An attempt that lost its lease but runs on cannot touch what another attempt recorded.

Worker "a" claims a job and is held just before it uploads; meanwhile its lease goes (it
expires and the job is reaped, or "a" hands the job back) and worker "b" runs the job to
completion. When "a" is let go it uploads bytes of its own, then finds its completion
refused: the blob store must then hold exactly what it held after "b" completed.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import update

from sfumato.blobs import BlobStore, LocalBlobStore
from sfumato.jobs.kinds import variation as variation_kind
from sfumato.jobs.kinds.variation import VariationPayload
from sfumato.store import queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Job, Variation
from sfumato.worker import outcomes
from sfumato.worker.loop import Worker
from tests.worker.conftest import Bench


class HeldBlobs:
    """Worker "a"'s blob store: uploads wait until ``go`` is set, and carry bytes no other
    attempt writes, so an upload over another attempt's blob would show."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self.holding = threading.Event()
        self.go = threading.Event()
        self.written: list[str] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._blobs, name)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.holding.set()
        assert self.go.wait(60), "the test never let the held attempt go"
        self._blobs.put(key, b"late attempt " + data, content_type)
        self.written.append(key)


def _blob_files(bench: Bench) -> dict[str, bytes]:
    blobs = bench.ctx.blobs
    assert isinstance(blobs, LocalBlobStore)
    root = blobs.root
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def _lose_lease(bench: Bench, worker: Worker, how: str) -> None:
    if how == "expired":
        with bench.ctx.db.transaction() as session:
            session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        assert outcomes.reap_expired(bench.ctx.db, bench.ctx.blobs) == 1
    else:
        assert worker.hand_back() == 1  # its attempt is not spent: "b" runs attempt 1 again


def _queue_upscale(bench: Bench) -> str:
    """A variation job upscaling a picture already in the blob store; its variation id."""
    picture = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 90)).save(picture, format="PNG")
    bench.ctx.blobs.put("sources/picture.png", picture.getvalue(), "image/png")
    with bench.ctx.db.transaction() as session:
        variation = Variation(account_id=bench.principal.account_id, transform="UPSCALE", credit_cost=0)
        session.add(variation)
        session.flush()
        payload = VariationPayload(
            variation_id=variation.id, transform="UPSCALE", source_key="sources/picture.png",
            multiplier=2.0, upscaler="tiny-esrgan",
        )  # fmt: skip
        queue.enqueue(session, **variation_kind.KIND.job_row(payload, account_id=bench.principal.account_id,
                                                             max_attempts=3))  # fmt: skip
        return variation.id


def _recorded_keys(bench: Bench, subject: str, subject_id: str) -> tuple[str, list[str]]:
    """The subject's status and the blob keys its rows point to."""
    if subject == "generation":
        generation = bench.generation(subject_id)
        return generation.status, [image.blob_key for image in generation.images]
    with bench.ctx.db.read() as session:
        variation = session.get(Variation, subject_id)
        assert variation is not None and variation.blob_key is not None
        return variation.status, [variation.blob_key]


@pytest.mark.parametrize(
    ("subject", "how"), [("generation", "expired"), ("generation", "handed_back"), ("variation", "expired")]
)
def test_a_stale_attempt_finishing_late_leaves_the_completed_job_and_the_blob_store_as_they_were(
    bench: Bench, subject: str, how: str
) -> None:
    subject_id = bench.submit(num_images=2) if subject == "generation" else _queue_upscale(bench)
    held = HeldBlobs(bench.ctx.blobs)
    stale = bench.worker(worker_id="a", blobs=held)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(stale.run_once)
        assert held.holding.wait(60), "worker a never reached its upload"
        _lose_lease(bench, stale, how)
        assert bench.worker(worker_id="b").run_once() == 1
        status, keys = _recorded_keys(bench, subject, subject_id)
        assert status == "COMPLETE" and keys
        after_completion = _blob_files(bench)
        held.go.set()
        assert running.result(timeout=60) == 1

    assert held.written and not set(held.written) & set(keys)  # "a" did upload, under keys of its own
    assert _blob_files(bench) == after_completion  # b's bytes untouched, nothing of a's left behind
    assert _recorded_keys(bench, subject, subject_id) == (status, keys)
    for key in keys:
        assert bench.ctx.blobs.get(key).startswith(b"\x89PNG")


def test_uploads_a_dead_attempt_left_are_removed_when_another_attempt_completes(bench: Bench) -> None:
    generation_id = bench.submit(num_images=2)
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="dead", lease_seconds=30)
    bench.ctx.blobs.put(outcomes.image_key(generation_id, 0, claimed.lease), b"partial", "image/png")
    with bench.ctx.db.transaction() as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert bench.worker().run_once() == 1  # reaps the dead attempt's job, then runs it

    keys = [image.blob_key for image in bench.generation(generation_id).images]
    assert not bench.ctx.blobs.exists(outcomes.image_key(generation_id, 0, claimed.lease))
    assert sorted(_blob_files(bench)) == sorted(keys)


def test_a_worker_handed_the_job_again_records_only_under_its_new_lease(bench: Bench) -> None:
    generation_id = bench.submit()
    leases = []
    for _ in range(2):
        with bench.ctx.db.transaction() as session:
            [claimed] = queue.claim_batch(session, worker_id="w", lease_seconds=30)
            leases.append(claimed.lease)
            if len(leases) == 1:
                queue.hand_back(session, job_ids=[claimed.id], worker_id="w")
    assert leases == [1, 2] and bench.job(generation_id).attempts == 1  # the hand-back spent none
    old = outcomes.complete(bench.ctx.db, job_id=claimed.id, worker_id="w", lease=1, artifacts=[], lineage={})
    assert old is outcomes.Completion.LEASE_LOST and bench.generation(generation_id).status == "PENDING"
    new = outcomes.complete(bench.ctx.db, job_id=claimed.id, worker_id="w", lease=2, artifacts=[], lineage={})
    assert new is outcomes.Completion.RECORDED and bench.generation(generation_id).status == "COMPLETE"
