"""What a completed job records of its outputs: sizes and hashes that match the blobs, and a
video as its poster with the video's own blob and facts beside it."""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image
from sqlalchemy import select

from sfumato.jobs.artifacts import artifact_key
from sfumato.jobs.writers import store_mp4
from sfumato.store import queue
from sfumato.store.models import GeneratedImage
from sfumato.worker import outcomes
from tests.worker.conftest import Bench


def test_a_completed_generations_images_carry_their_size_and_hash(bench: Bench) -> None:
    generation_id = bench.submit(num_images=2)
    assert bench.worker().run_once()
    images = bench.generation(generation_id).images
    assert len(images) == 2
    for image in images:
        data = bench.ctx.blobs.get(image.blob_key)
        assert image.size_bytes == len(data) > 0
        assert image.sha256 == hashlib.sha256(data).hexdigest()
        assert (image.media_type, image.video_blob_key, image.frame_count) == ("image", None, None)


def _video_frames() -> list[Image.Image]:
    return [Image.fromarray(np.full((32, 48, 3), 30 * index, dtype=np.uint8)) for index in range(6)]


def test_a_video_output_is_recorded_as_its_poster_with_the_videos_facts(bench: Bench) -> None:
    generation_id = bench.submit()
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="w", lease_seconds=30)
    key = artifact_key(generation_id, claimed.lease, 0, "mp4")
    video = store_mp4(bench.ctx.blobs, key, _video_frames(), fps=12, seed=9)
    assert video.poster is not None

    completion = outcomes.complete(bench.ctx.db, job_id=claimed.id, worker_id="w", lease=claimed.lease,
                                   artifacts=[video], lineage={}, blobs=bench.ctx.blobs)  # fmt: skip

    assert completion is outcomes.Completion.RECORDED
    with bench.ctx.db.read() as session:
        [row] = session.scalars(select(GeneratedImage).where(GeneratedImage.generation_id == generation_id))
    assert (row.media_type, row.seed, row.width, row.height) == ("video", 9, 48, 32)
    assert (row.blob_key, row.content_type) == (video.poster.blob_key, "image/png")
    assert row.size_bytes == len(bench.ctx.blobs.get(row.blob_key))
    assert row.video_blob_key == key
    assert row.video_size_bytes == len(bench.ctx.blobs.get(key)) == video.size_bytes
    assert row.video_sha256 == hashlib.sha256(bench.ctx.blobs.get(key)).hexdigest()
    assert (row.frame_count, row.fps, row.duration_seconds) == (6, 12.0, 0.5)


def test_a_video_whose_lease_was_lost_leaves_neither_the_video_nor_its_poster(bench: Bench) -> None:
    generation_id = bench.submit()
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="w", lease_seconds=30)
    key = artifact_key(generation_id, claimed.lease, 0, "mp4")
    video = store_mp4(bench.ctx.blobs, key, _video_frames(), fps=12)

    completion = outcomes.complete(bench.ctx.db, job_id=claimed.id, worker_id="intruder", lease=claimed.lease,
                                   artifacts=[video], lineage={}, blobs=bench.ctx.blobs)  # fmt: skip

    assert completion is outcomes.Completion.LEASE_LOST
    assert video.blob_keys and not any(bench.ctx.blobs.exists(key) for key in video.blob_keys)
