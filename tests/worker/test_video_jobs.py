"""Video jobs on the ledger: a dead worker's clip is run again under the rules every job follows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from sfumato.jobs.artifacts import Attempt
from sfumato.jobs.kinds.video import video_key
from sfumato.service import edits, videos
from sfumato.store import credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Job
from tests.worker.conftest import Bench


def test_a_dead_workers_clip_runs_again_and_is_recorded_once(bench: Bench) -> None:
    request = videos.VideoRequest(
        prompt="waves", motion_model="tiny-ltx-video", width=64, height=64, duration=1, seed=3
    )
    generation_id = videos.create_video(bench.ctx, bench.principal, request).generation_id
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="dead", lease_seconds=30)
    partial = video_key(Attempt(generation_id, claimed.lease))
    bench.ctx.blobs.put(partial, b"half a clip", "video/mp4")  # what the dead attempt got to upload
    with bench.ctx.db.transaction() as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))

    assert bench.worker().run_once() == 1  # reaps the dead attempt's job, then runs it

    generation = bench.generation(generation_id)
    assert generation.status == "COMPLETE"
    [clip] = generation.images
    assert clip.media_type == "video" and clip.frame_count == 9 and clip.fps == 8
    assert clip.video_blob_key is not None and clip.video_blob_key != partial
    assert bench.ctx.blobs.get(clip.video_blob_key)[4:8] == b"ftyp"
    assert not bench.ctx.blobs.exists(partial)  # the dead attempt's upload is gone
    assert bench.job(generation_id).attempts == 2


def test_a_clip_whose_picture_is_gone_fails_and_is_refunded(bench: Bench) -> None:
    still_generation = bench.submit()
    assert bench.worker().run_once() == 1
    [still] = bench.generation(still_generation).images
    request = videos.VideoRequest(
        prompt="waves", motion_model="tiny-ltx-video", duration=1, seed=3,
        image=videos.PictureRef(still.id, "GENERATED"),
    )  # fmt: skip
    created = videos.create_video(bench.ctx, bench.principal, request)
    with bench.ctx.db.read() as session:
        balance_before = credits.ledger_sum(session, bench.principal.account_id)
    bench.ctx.blobs.delete(edits.input_key(created.generation_id, "init"))

    assert bench.worker().run_once() == 1

    generation = bench.generation(created.generation_id)
    assert generation.status == "FAILED" and "first frame" in (generation.failure_reason or "")
    assert generation.images == []
    with bench.ctx.db.read() as session:
        assert credits.ledger_sum(session, bench.principal.account_id) == balance_before + created.credit_cost
