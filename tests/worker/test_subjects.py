"""Variation and realtime jobs end like generations: only the lease holder records, refunds once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import update

from sfumato.jobs.kinds import realtime as realtime_kind
from sfumato.jobs.kinds import variation as variation_kind
from sfumato.jobs.kinds.realtime import RealtimePayload
from sfumato.jobs.kinds.variation import VariationPayload
from sfumato.store import credits, queue
from sfumato.store import realtime as realtime_store
from sfumato.store import variations as variation_store
from sfumato.store.clock import utcnow
from sfumato.store.models import Job, RealtimeRequest, Variation
from sfumato.worker import outcomes
from tests.worker.conftest import Bench

PICTURE = outcomes.Artifact(type="image", position=0, seed=1, blob_key="", content_type="image/png",
                            width=128, height=128, size_bytes=4321, sha256="0" * 64)  # fmt: skip


def _variation(bench: Bench, *, max_attempts: int = 3) -> tuple[str, str]:
    """A queued variation job charged 5 credits, claimed by worker "w1"; (variation id, job id)."""
    with bench.ctx.db.transaction() as session:
        variation = Variation(account_id=bench.principal.account_id, transform="UPSCALE", credit_cost=5)
        session.add(variation)
        session.flush()
        assert credits.debit(
            session,
            account_id=bench.principal.account_id,
            amount=5,
            subject_kind="variation",
            subject_id=variation.id,
        )
        payload = VariationPayload(variation_id=variation.id, transform="UPSCALE", source_key="sources/x.png",
                                   upscaler="tiny-esrgan", multiplier=2.0)  # fmt: skip
        row = variation_kind.KIND.job_row(
            payload, account_id=bench.principal.account_id, max_attempts=max_attempts
        )
        queue.enqueue(session, **row)
        variation_id = variation.id
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="w1", lease_seconds=30)
    return variation_id, claimed.id


def _row(bench: Bench, variation_id: str) -> Variation:
    with bench.ctx.db.read() as session:
        variation = session.get(Variation, variation_id)
        assert variation is not None
        return variation


def _ledger(bench: Bench, reference: str) -> list[str]:
    with bench.ctx.db.read() as session:
        return [entry.kind for entry in credits.entries_for(session, subject_id=reference)]


def test_only_the_lease_holder_records_a_variation(bench: Bench) -> None:
    variation_id, job_id = _variation(bench)
    picture = replace(PICTURE, blob_key=variation_store.blob_key(variation_id, 1))
    stale = outcomes.complete(bench.ctx.db, job_id=job_id, worker_id="w2", artifacts=[picture], lineage={})
    assert stale is outcomes.Completion.LEASE_LOST and _row(bench, variation_id).status == "PENDING"
    done = outcomes.complete(bench.ctx.db, job_id=job_id, worker_id="w1", artifacts=[picture],
                             lineage={"x": 1})  # fmt: skip
    assert done is outcomes.Completion.RECORDED
    row = _row(bench, variation_id)
    assert (row.status, row.blob_key, row.width, row.size_bytes, row.lineage["worker"]) == (
        "COMPLETE", variation_store.blob_key(variation_id, 1), 128, 4321, "w1"
    )  # fmt: skip
    assert _ledger(bench, variation_id) == ["debit"]


def test_a_variation_out_of_attempts_fails_is_refunded_once_and_leaves_no_blob(bench: Bench) -> None:
    variation_id, job_id = _variation(bench, max_attempts=1)
    bench.ctx.blobs.put(variation_store.blob_key(variation_id, 1), b"partial", "image/png")
    with bench.ctx.db.transaction() as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert outcomes.reap_expired(bench.ctx.db, bench.ctx.blobs) == 1
    row = _row(bench, variation_id)
    assert row.status == "FAILED" and "lease expired" in (row.failure_reason or "")
    assert not bench.ctx.blobs.exists(variation_store.blob_key(variation_id, 1))
    assert outcomes.fail(bench.ctx.db, job_id=job_id, worker_id="w1", reason="late", retry=False) is False
    assert _ledger(bench, variation_id) == ["debit", "refund"]


def test_a_variation_deleted_while_running_is_refunded_and_its_output_dropped(bench: Bench) -> None:
    variation_id, job_id = _variation(bench)
    with bench.ctx.db.transaction() as session:
        session.delete(session.get(Variation, variation_id))
    done = outcomes.complete(bench.ctx.db, job_id=job_id, worker_id="w1", artifacts=[PICTURE], lineage={})
    assert done is outcomes.Completion.DELETED
    assert _ledger(bench, variation_id) == ["debit", "refund"]


def test_a_late_result_for_an_abandoned_realtime_request_is_thrown_away(bench: Bench) -> None:
    with bench.ctx.db.transaction() as session:
        request = RealtimeRequest(account_id=bench.principal.account_id, operation="generate")
        session.add(request)
        session.flush()
        payload = RealtimePayload(request_id=request.id, operation="generate", inputs={"image": "x.png"},
                                  model_key="tiny-lcm", prompt="p", steps=4, guidance_scale=1.0, strength=0.5,
                                  seed=1, upscaler="tiny-esrgan", multiplier=2.0)  # fmt: skip
        queue.enqueue(session, **realtime_kind.KIND.job_row(payload, account_id=bench.principal.account_id,
                                                            max_attempts=3))  # fmt: skip
        request_id = request.id
    with bench.ctx.db.transaction() as session:
        [claimed] = queue.claim_batch(session, worker_id="w1", lease_seconds=30)
        row = realtime_store.get_for_update(session, request_id)
        assert row is not None
        realtime_store.finish(session, row, realtime_store.ABANDONED, "timed out")
    done = outcomes.complete(bench.ctx.db, job_id=claimed.id, worker_id="w1", artifacts=[PICTURE], lineage={})
    assert done is outcomes.Completion.DELETED
    with bench.ctx.db.read() as session:
        job = session.get(Job, claimed.id)
        assert job is not None and job.state == "cancelled"
