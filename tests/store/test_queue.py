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


def _generation_with_job(db: Database, account_id: str, cost: int = 5) -> tuple[str, str]:
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
                            generation_id=generation.id, max_attempts=2)  # fmt: skip
        session.flush()
        return generation.id, job.id


def _claim(db: Database, worker: str, limit: int = 1, lease: float = 30) -> list[queue.ClaimedJob]:
    with db.transaction() as session:
        return queue.claim(session, worker_id=worker, lease_seconds=lease, limit=limit)


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
    db = Database(database_url)
    account = _account(db, credit=1000, slots=100)
    job_ids = {_generation_with_job(db, account, cost=1)[1] for _ in range(40)}
    taken: list[str] = []
    lock = threading.Lock()

    def claimer(name: str) -> None:
        while True:
            claimed = _claim(db, name, limit=3)
            if not claimed:
                return
            with lock:
                taken.extend(j.id for j in claimed)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(job_ids)
    db.dispose()


def test_only_the_lease_holder_may_complete(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db)
    generation_id, job_id = _generation_with_job(db, account)
    _claim(db, "w1")
    lost = outcomes.complete(db, job_id=job_id, worker_id="intruder", images=[], lineage={})
    assert lost is outcomes.Completion.LEASE_LOST
    recorded = outcomes.complete(db, job_id=job_id, worker_id="w1", images=[], lineage={})
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
    stale = outcomes.complete(db, job_id=job_id, worker_id="w1", images=[], lineage={})
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


def test_heartbeat_extends_only_a_held_lease(database_url: str) -> None:
    db = Database(database_url)
    account = _account(db)
    _, job_id = _generation_with_job(db, account)
    _claim(db, "w1", lease=1)
    with db.transaction() as session:
        assert queue.heartbeat(session, job_id=job_id, worker_id="w1", lease_seconds=60)
        assert not queue.heartbeat(session, job_id=job_id, worker_id="w2", lease_seconds=60)
    assert outcomes.reap_expired(db) == 0
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
