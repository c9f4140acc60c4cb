"""Claim-time scheduling: concurrency caps, lanes, fairness, capabilities, affinity, batches."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from sfumato.errors import QuotaExceeded
from sfumato.store import Database, accounts, queue
from sfumato.store.clock import utcnow
from sfumato.store.models import Job


@pytest.fixture
def db(database_url: str) -> Database:
    database = Database(database_url)
    yield database  # type: ignore[misc]
    database.dispose()


def _account(db: Database, name: str, slots: int = 2) -> str:
    with db.transaction() as session:
        return accounts.create_account(session, username=name, concurrency_slots=slots).id


def _enqueue(
    db: Database, account: str, count: int = 1, *, lane: int = 1, model: str | None = "m",
    key: str | None = None, kind: str = "text_to_image", age: float = 0.0,
) -> list[str]:  # fmt: skip
    """Queue ``count`` jobs; ``age`` seconds back-dates them (older jobs sort first)."""
    with db.transaction() as session:
        jobs = []
        for i in range(count):
            job = queue.enqueue(session, kind=kind, account_id=account, payload={"i": i}, lane=lane,
                                model_key=model, batch_key=key)  # fmt: skip
            job.created_at = utcnow() - timedelta(seconds=age) + timedelta(microseconds=i)
            jobs.append(job)
        session.flush()
        return [job.id for job in jobs]


def _claim(db: Database, worker: str = "w", limit: int = 1, **kw: object) -> list[queue.ClaimedJob]:
    """Up to ``limit`` claims one after another, as a worker (or ``limit`` workers) would make them."""
    claimed: list[queue.ClaimedJob] = []
    for _ in range(limit):
        with db.transaction() as session:
            taken = queue.claim_batch(session, worker_id=worker, lease_seconds=30, **kw)  # type: ignore[arg-type]
        if not taken:
            break
        claimed += taken
    return claimed


def _batch(db: Database, max_jobs: int, **kw: object) -> list[queue.ClaimedJob]:
    with db.transaction() as session:
        return queue.claim_batch(session, worker_id="w", lease_seconds=30, max_jobs=max_jobs, **kw)  # type: ignore[arg-type]


def _finish(db: Database, job_id: str) -> None:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        queue.finish(job, state=queue.SUCCEEDED)


def test_an_account_runs_at_most_its_concurrency_slots(db: Database) -> None:
    account = _account(db, "capped", slots=2)
    _enqueue(db, account, 5)
    running = [job.id for job in _claim(db, limit=5)]
    assert len(running) == 2
    assert _claim(db) == []  # both slots busy: nothing more, although 3 wait
    _finish(db, running[0])
    assert len(_claim(db, limit=5)) == 1


def test_realtime_lane_before_interactive_before_batch(db: Database) -> None:
    account = _account(db, "lanes", slots=10)
    batch = _enqueue(db, account, lane=queue.BATCH, age=30)
    interactive = _enqueue(db, account, lane=queue.INTERACTIVE, age=20)
    realtime = _enqueue(db, account, lane=queue.REALTIME)
    assert [job.id for job in _claim(db, limit=3)] == realtime + interactive + batch


def test_accounts_take_turns_oldest_first_within_each(db: Database) -> None:
    a, b, c = (_account(db, name, slots=10) for name in "abc")
    jobs = {account: _enqueue(db, account, 3, age=age) for account, age in ((a, 30), (b, 20), (c, 10))}
    order = [job.id for job in (_claim(db)[0] for _ in range(9))]
    expected = [jobs[account][turn] for turn in range(3) for account in (a, b, c)]
    assert order == expected


def test_a_flood_from_one_account_does_not_starve_anothers_single_job(db: Database) -> None:
    flood, single = _account(db, "flood", slots=1000), _account(db, "single", slots=2)
    _enqueue(db, flood, 500, age=60)
    lone = _enqueue(db, single)[0]  # queued a minute after all 500
    first_two = [job.id for job in (_claim(db)[0] for _ in range(2))]
    assert lone in first_two


def test_concurrent_claimers_never_exceed_an_accounts_slots(db: Database) -> None:
    # Realtime jobs arriving while workers claim reorder each account's queue under the
    # claimers' feet: the race that a cap checked only in the schedule query would lose.
    # Claimers take batches and top them up, as the worker loop does.
    accounts_ = [_account(db, f"acct{i}", slots=2) for i in range(3)]
    for account in accounts_:
        _enqueue(db, account, 10, key="K")
    taken: list[queue.ClaimedJob] = []
    lock = threading.Lock()
    done = threading.Event()

    def claimer(name: str) -> None:
        while not done.is_set():
            with db.transaction() as session:
                claimed = queue.claim_batch(session, worker_id=name, lease_seconds=30, max_jobs=3)
            if claimed and claimed[0].batch_key:
                head = claimed[0]
                with db.transaction() as session:
                    claimed += queue.claim_more(session, worker_id=name, lease_seconds=30, max_jobs=3,
                                                batch_key=head.batch_key, lane=head.lane)  # fmt: skip
            with lock:
                taken.extend(claimed)

    def arrivals() -> None:
        for _ in range(4):
            for account in accounts_:
                _enqueue(db, account, lane=queue.REALTIME, key="K")
        done.set()

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    threads.append(threading.Thread(target=arrivals))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    per_account = {account: sum(job.account_id == account for job in taken) for account in accounts_}
    assert per_account == dict.fromkeys(accounts_, 2)


def test_a_worker_claims_only_kinds_and_models_it_can_run(db: Database) -> None:
    account = _account(db, "caps", slots=10)
    upscale = _enqueue(db, account, kind="upscale", model=None, age=30)
    sdxl = _enqueue(db, account, model="sdxl", age=20)
    sd15 = _enqueue(db, account, model="sd15", age=10)
    can_run = queue.Capabilities(kinds=frozenset({"text_to_image"}), models=frozenset({"sd15"}))
    assert [job.id for job in _claim(db, limit=3, can_run=can_run)] == sd15
    assert [job.id for job in _claim(db, limit=3)] == upscale + sdxl


def test_among_equally_fair_jobs_a_loaded_model_goes_first(db: Database) -> None:
    p, q = _account(db, "p", slots=10), _account(db, "q", slots=10)
    cold = _enqueue(db, p, 2, model="sdxl", age=5)
    warm = _enqueue(db, q, 2, model="sd15")
    holding_sd15 = queue.Capabilities(loaded=("sd15",))
    assert [j.id for j in _claim(db, can_run=holding_sd15)] == warm[:1]
    # q now runs one job, so p's older job is fairer than q's next warm one.
    assert [j.id for j in _claim(db, can_run=holding_sd15)] == cold[:1]
    assert [j.id for j in _claim(db, limit=2)] == [cold[1], warm[1]]


def test_a_batch_takes_jobs_with_the_head_key_in_schedule_order(db: Database) -> None:
    a, b = _account(db, "ba", slots=10), _account(db, "bb", slots=1)
    first = _enqueue(db, a, 2, key="K", age=30)
    _enqueue(db, a, 1, key="L", age=25)
    from_b = _enqueue(db, b, 3, key="K", age=20)  # b may run only one
    realtime = _enqueue(db, a, 1, key="K", lane=queue.REALTIME, age=40)
    assert [j.id for j in _batch(db, 8)] == realtime  # followers stay in the head's lane
    batch = _batch(db, 8)
    assert {j.batch_key for j in batch} == {"K"}
    # a already runs its realtime job, so b's job (load 1) leads a's two (loads 2 and 3).
    assert [j.id for j in batch] == [from_b[0], first[0], first[1]]
    assert [j.batch_key for j in _batch(db, 8)] == ["L"]


def test_a_job_without_batch_key_runs_alone(db: Database) -> None:
    account = _account(db, "solo", slots=10)
    _enqueue(db, account, 3, key=None)
    assert len(_batch(db, 8)) == 1


def test_batch_size_is_bounded(db: Database) -> None:
    account = _account(db, "bounded", slots=10)
    _enqueue(db, account, 7, key="K")
    assert len(_batch(db, 4)) == 4
    with db.transaction() as session:
        more = queue.claim_more(session, worker_id="w", lease_seconds=30, batch_key="K", lane=1, max_jobs=8)
    assert len(more) == 3


def test_queue_depth_is_capped_per_account(db: Database) -> None:
    full, other = _account(db, "full"), _account(db, "other")
    with db.transaction() as session:
        for _ in range(2):
            queue.enqueue(session, kind="k", account_id=full, payload={}, max_queued=2)
    with pytest.raises(QuotaExceeded, match="2 jobs waiting"), db.transaction() as session:
        queue.enqueue(session, kind="k", account_id=full, payload={}, max_queued=2)
    with db.transaction() as session:
        queue.enqueue(session, kind="k", account_id=other, payload={}, max_queued=2)
    with db.read() as session:
        assert queue.queued_count(session, full) == 2


def test_handed_back_jobs_are_queued_again_without_spending_an_attempt(db: Database) -> None:
    account = _account(db, "handback")
    job_id = _enqueue(db, account)[0]
    _claim(db, "leaving")
    with db.transaction() as session:
        assert queue.hand_back(session, job_ids=[job_id], worker_id="someone-else") == 0
        assert queue.hand_back(session, job_ids=[job_id], worker_id="leaving") == 1
    again = _claim(db, "staying")
    assert [(j.id, j.attempts) for j in again] == [(job_id, 1)]
