"""The queue's guarantees, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import timedelta

from sfumato.jobs.kinds import text_to_image
from sfumato.store import Database, accounts, credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Generation, Job
from sfumato.worker import outcomes


def _account(db: Database, credit: int = 100, slots: int = 2, name: str = "q") -> str:
    with db.transaction() as session:
        account = accounts.create_account(session, username=name, concurrency_slots=slots)
        credits.grant(session, account_id=account.id, amount=credit)
        return account.id


PAYLOAD = text_to_image.KIND.encode(
    text_to_image.TextToImagePayload(model_key="tiny-sd15", prompt="p", width=64, height=64, steps=10,
                                     guidance_scale=7.0, seeds=(1,))
)  # fmt: skip


def _generation_with_job(
    db: Database, account_id: str, cost: int = 5, batch_key: str | None = None, max_attempts: int = 2
) -> tuple[str, str]:
    with db.transaction() as session:
        generation = Generation(account_id=account_id, model_id="m", model_key="tiny-sd15", prompt="p",
                                width=64, height=64, num_images=1, steps=10, guidance_scale=7.0, seed=1,
                                scheduler="EULER_DISCRETE", credit_cost=cost)  # fmt: skip
        session.add(generation)
        session.flush()
        assert credits.debit(
            session, account_id=account_id, amount=cost, subject_kind="generation", subject_id=generation.id
        )
        job = queue.enqueue(session, kind="text_to_image", account_id=account_id, payload=PAYLOAD,
                            generation_id=generation.id, max_attempts=max_attempts,
                            batch_key=batch_key)  # fmt: skip
        session.flush()
        return generation.id, job.id


def _claim(db: Database, worker: str, max_jobs: int = 1, lease: float = 30) -> list[queue.ClaimedJob]:
    """A claim as the worker loop makes it: a head job and those that share its batch key."""
    with db.transaction() as session:
        return queue.claim_batch(session, worker_id=worker, lease_seconds=lease, max_jobs=max_jobs)


def _claim_more(db: Database, worker: str, head: queue.ClaimedJob, room: int) -> list[queue.ClaimedJob]:
    """The worker loop's top-up of a batch while it fills."""
    assert head.batch_key is not None
    with db.transaction() as session:
        return queue.claim_more(session, worker_id=worker, lease_seconds=30, batch_key=head.batch_key,
                                lane=head.lane, max_jobs=room)  # fmt: skip


def test_jobs_are_claimed_oldest_first_and_once(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db)
    first = _generation_with_job(db, account)[1]
    second = _generation_with_job(db, account)[1]
    assert [j.id for j in _claim(db, "w1")] == [first]
    assert [j.id for j in _claim(db, "w2")] == [second]
    assert _claim(db, "w3") == []
    db.dispose()


def test_concurrent_claimers_never_share_a_job(database_url: str) -> None:
    """Four workers claim batches (head, followers, then a top-up) at once: every job is taken
    exactly once, and every batch keeps to one batch key."""
    db = Database(database_url)
    account = _account(db, credit=1000, slots=100)
    job_ids = {_generation_with_job(db, account, cost=1, batch_key=f"K{n % 3}")[1] for n in range(40)}
    key_of = {}
    with db.read() as session:
        for job_id in job_ids:
            job = session.get(Job, job_id)
            assert job is not None
            key_of[job_id] = job.batch_key
    batches: list[list[str]] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            claimed = _claim(db, name, max_jobs=3)
            if not claimed:
                return
            claimed += _claim_more(db, name, claimed[0], room=2)
            with lock:
                batches.append([j.id for j in claimed])

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [job_id for batch in batches for job_id in batch]
    assert sorted(taken) == sorted(job_ids)
    assert all(len({key_of[job_id] for job_id in batch}) == 1 for batch in batches)
    assert max(len(batch) for batch in batches) > 1  # followers and top-ups were claimed too
    db.dispose()


def test_only_the_lease_holder_may_complete(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db)
    generation_id, job_id = _generation_with_job(db, account)
    _claim(db, "w1")
    lost = outcomes.complete(db, job_id=job_id, worker_id="intruder", artifacts=[], lineage={})
    assert lost is outcomes.Completion.LEASE_LOST
    recorded = outcomes.complete(db, job_id=job_id, worker_id="w1", artifacts=[], lineage={})
    assert recorded is outcomes.Completion.RECORDED
    with db.read() as session:
        assert session.get(Generation, generation_id).status == "COMPLETE"  # type: ignore[union-attr]
    db.dispose()


def _expire(db: Database, job_id: str) -> None:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.lease_expires_at = utcnow() - timedelta(seconds=1)


def test_expired_lease_is_requeued_then_failed_and_refunded(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db, credit=100)
    generation_id, job_id = _generation_with_job(db, account, cost=5)
    _claim(db, "w1")
    _expire(db, job_id)
    assert outcomes.reap_expired(db) == 1
    stale = outcomes.complete(db, job_id=job_id, worker_id="w1", artifacts=[], lineage={})
    assert stale is outcomes.Completion.LEASE_LOST
    assert [j.attempts for j in _claim(db, "w2")] == [2]
    _expire(db, job_id)
    assert outcomes.reap_expired(db) == 1  # out of attempts: fails for good
    with db.read() as session:
        generation = session.get(Generation, generation_id)
        assert generation is not None and generation.status == "FAILED"
        assert "attempts" in (generation.failure_reason or "")
        assert accounts.get_account(session, account).credit_balance == 100  # type: ignore[union-attr]
        assert credits.ledger_sum(session, account) == 100
        assert [e.kind for e in credits.entries_for(session, subject_id=generation_id)] == [
            "debit",
            "refund",
        ]
    assert outcomes.reap_expired(db) == 0
    db.dispose()


def test_a_renewed_lease_outlives_its_expiry_and_an_unrenewed_one_is_reaped(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db)
    _, kept = _generation_with_job(db, account)
    _, dropped = _generation_with_job(db, account)
    assert [j.id for j in _claim(db, "w1") + _claim(db, "w1")] == [kept, dropped]
    _expire(db, kept)
    _expire(db, dropped)  # both leases have run out, neither is reaped yet
    with db.transaction() as session:
        assert queue.renew(session, job_ids=[kept], worker_id="w1", lease_seconds=60) == {kept}
        assert queue.renew(session, job_ids=[dropped], worker_id="intruder", lease_seconds=60) == set()
    assert outcomes.reap_expired(db) == 1
    with db.read() as session:
        renewed, reaped = session.get(Job, kept), session.get(Job, dropped)
        assert renewed is not None and reaped is not None
        assert renewed.state == queue.RUNNING and renewed.lease_owner == "w1"
        assert renewed.lease_expires_at is not None
        assert renewed.lease_expires_at > utcnow() + timedelta(seconds=30)
        assert reaped.state == queue.QUEUED and reaped.lease_owner is None
    db.dispose()


def test_jobs_of_a_batch_whose_lease_ran_out_run_alone_afterwards(database_url: str) -> None:
    """A batch whose worker died comes back as single jobs: if one of them is what kills its
    worker, it spends only its own attempts, not those of the jobs it was batched with."""
    db = Database(database_url)
    account = _account(db, credit=1000, slots=100)
    job_ids = [_generation_with_job(db, account, cost=1, batch_key="K", max_attempts=3)[1] for _ in range(4)]
    late = _generation_with_job(db, account, cost=1, batch_key="K")[1]
    batch = _claim(db, "dead", max_jobs=4)
    assert [j.id for j in batch] == job_ids
    for job_id in job_ids:
        _expire(db, job_id)
    assert outcomes.reap_expired(db) == 4
    retried = _claim(db, "w1", max_jobs=8)
    assert [(j.id, j.batch_key, j.attempts) for j in retried] == [(job_ids[0], None, 2)]
    for n, job_id in enumerate(job_ids[1:]):
        assert [(j.id, j.batch_key) for j in _claim(db, f"w{n + 2}", max_jobs=8)] == [(job_id, None)]
    # a job that never lost a lease keeps its key: it still batches with its peers
    assert [(j.id, j.batch_key) for j in _claim(db, "w9", max_jobs=8)] == [(late, "K")]
    db.dispose()


def test_refund_happens_once(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db, credit=50)
    generation_id, _ = _generation_with_job(db, account, cost=10)
    with db.transaction() as session:
        assert credits.refund(session, account_id=account, subject_id=generation_id) == 10
        assert credits.refund(session, account_id=account, subject_id=generation_id) == 0
    with db.read() as session:
        assert accounts.get_account(session, account).credit_balance == 50  # type: ignore[union-attr]
    db.dispose()


def test_debit_never_overdraws(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db, credit=3)
    with db.transaction() as session:
        assert not credits.debit(
            session, account_id=account, amount=4, subject_kind="generation", subject_id="g"
        )
        assert credits.debit(session, account_id=account, amount=3, subject_kind="generation", subject_id="g")
    db.dispose()
