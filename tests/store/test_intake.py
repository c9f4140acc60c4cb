"""Group commit of submitted generations: each submission is decided as if it came alone."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from sfumato.store import Database, accounts, credits, queue
from sfumato.store.clock import utcnow
from sfumato.store.intake import Accepted, Refused, Submission, write_group
from sfumato.store.models import CreditEntry, Generation, Job, new_id


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _account(db: Database, credit: int, name: str = "a") -> str:
    with db.transaction() as session:
        account = accounts.create_account(session, username=name, concurrency_slots=2)
        credits.grant(session, account_id=account.id, amount=credit)
        return account.id


def _submission(
    account_id: str, cost: int = 10, request_hash: str | None = None, **limits: Any
) -> Submission:
    generation_id = new_id()
    now = utcnow()
    return Submission(
        account_id=account_id,
        cost=cost,
        subject_kind="generation",
        subject_id=generation_id,
        subject_table=Generation.__table__,
        subject={
            "id": generation_id,
            "account_id": account_id,
            "model_id": "m",
            "model_key": "tiny-sd15",
            "prompt": "p",
            "width": 64,
            "height": 64,
            "num_images": 1,
            "steps": 10,
            "guidance_scale": 7.0,
            "seed": 1,
            "scheduler": "EULER_DISCRETE",
            "credit_cost": cost,
            "request_hash": request_hash,
        },
        job={
            "id": new_id(),
            "kind": "text_to_image",
            "account_id": account_id,
            "payload": {"n": 1},
            "state": queue.QUEUED,
        },
        request_hash=request_hash,
        dedupe_since=now - timedelta(minutes=10) if request_hash else None,
        budget_day_start=now.replace(hour=0, minute=0, second=0, microsecond=0),
        **limits,
    )


def _write(db: Database, subs: list[Submission]) -> list[Accepted | Refused]:
    with db.transaction() as session:
        return write_group(session, subs)


def _state(db: Database, account_id: str) -> tuple[int, int, int, int]:
    """Balance, ledger sum, generations and queued jobs of the account."""
    with db.read() as session:
        account = accounts.get_account(session, account_id)
        assert account is not None
        balance = account.credit_balance
        generations = session.scalar(select(func.count()).where(Generation.account_id == account_id))
        jobs = queue.queued_count(session, account_id)
        return balance, credits.ledger_sum(session, account_id), int(generations or 0), jobs


def test_a_group_charges_each_account_and_writes_every_row(db: Database) -> None:
    alice, bob = _account(db, 100, "alice"), _account(db, 100, "bob")
    subs = [_submission(alice), _submission(bob, cost=7), _submission(alice)]
    outcomes = _write(db, subs)
    assert outcomes == [Accepted(s.subject_id, s.cost) for s in subs]
    assert _state(db, alice) == (80, 80, 2, 2)
    assert _state(db, bob) == (93, 93, 1, 1)
    with db.read() as session:
        job = session.scalars(select(Job).where(Job.generation_id == subs[1].subject_id)).one()
        assert (job.state, job.payload) == (queue.QUEUED, {"n": 1})
        debits = session.scalars(select(CreditEntry).where(CreditEntry.kind == credits.DEBIT)).all()
        assert sorted(e.amount for e in debits) == [-10, -10, -7]


def test_when_the_balance_does_not_cover_the_group_each_is_charged_in_turn(db: Database) -> None:
    alice = _account(db, 25)
    subs = [_submission(alice, cost=10), _submission(alice, cost=20), _submission(alice, cost=10)]
    outcomes = _write(db, subs)
    assert outcomes == [
        Accepted(subs[0].subject_id, 10),
        Refused("credits"),
        Accepted(subs[2].subject_id, 10),
    ]
    assert _state(db, alice) == (5, 5, 2, 2)


def test_the_queue_cap_counts_earlier_members_of_the_group(db: Database) -> None:
    alice = _account(db, 1000)
    _write(db, [_submission(alice, max_queued=3)])
    subs = [_submission(alice, max_queued=3) for _ in range(4)]
    outcomes = _write(db, subs)
    assert [type(o) for o in outcomes] == [Accepted, Accepted, Refused, Refused]
    assert outcomes[2] == Refused("queue", 3)
    # The refused ones were charged with the group and given back in the same transaction.
    assert _state(db, alice) == (970, 970, 3, 3)


def test_a_job_admitted_claimed_skips_the_queue_cap_while_its_account_has_a_free_slot(db: Database) -> None:
    alice = _account(db, 1000)  # two concurrency slots
    _write(db, [_submission(alice, max_queued=1)])  # the queue is at its cap
    lease = queue.Lease(worker_id="w", seconds=30)
    subs = [_submission(alice, max_queued=1, lease=lease) for _ in range(3)] + [
        _submission(alice, max_queued=1)
    ]
    outcomes = _write(db, subs)
    # The first two run at once (a slot each), so the cap on waiting jobs does not apply to
    # them; the third would wait, and the queue is full; so would the last, which asked for no lease.
    assert outcomes == [
        Accepted(subs[0].subject_id, 10, leased=True),
        Accepted(subs[1].subject_id, 10, leased=True),
        Refused("queue", 1),
        Refused("queue", 1),
    ]
    assert _state(db, alice) == (970, 970, 3, 1)
    with db.read() as session:
        running = session.scalars(select(Job).where(Job.state == queue.RUNNING)).all()
        assert sorted(job.generation_id for job in running) == sorted(s.subject_id for s in subs[:2])
        assert {job.lease_owner for job in running} == {"w"}


def test_the_daily_budget_counts_earlier_members_of_the_group(db: Database) -> None:
    alice = _account(db, 1000)
    _write(db, [_submission(alice, cost=10, daily_budget=35)])
    subs = [_submission(alice, cost=10, daily_budget=35) for _ in range(3)]
    outcomes = _write(db, subs)
    assert [type(o) for o in outcomes] == [Accepted, Accepted, Refused]
    assert outcomes[2] == Refused("budget", 40)
    assert _state(db, alice) == (970, 970, 3, 3)


def test_what_a_submission_must_cover_beyond_its_cost_is_checked_but_not_taken(db: Database) -> None:
    """A blueprint execution's admission: its whole quote must fit the balance and the day's
    budget, but only its first step's cost is taken; what follows it in the group sees that."""
    alice = _account(db, 12)
    subs = [
        _submission(alice, cost=2, covers=9),
        _submission(alice, cost=5),
        _submission(alice, cost=2, covers=9),
    ]
    outcomes = _write(db, subs)
    assert outcomes == [Accepted(subs[0].subject_id, 2), Accepted(subs[1].subject_id, 5), Refused("credits")]
    assert _state(db, alice) == (5, 5, 2, 2)
    bob = _account(db, 100, "bob")
    assert _write(db, [_submission(bob, cost=2, covers=9, daily_budget=8)]) == [Refused("budget", 9)]
    assert _state(db, bob) == (100, 100, 0, 0)


def test_a_repeated_seeded_request_is_answered_with_the_first_generation(db: Database) -> None:
    alice, bob = _account(db, 100, "alice"), _account(db, 100, "bob")
    first = _submission(alice, request_hash="h1")
    assert _write(db, [first]) == [Accepted(first.subject_id, 10)]
    again, same_group, other_account = (
        _submission(alice, request_hash="h1"),
        _submission(alice, request_hash="h2"),
        _submission(bob, request_hash="h1"),
    )
    repeat_in_group = _submission(alice, request_hash="h2")
    outcomes = _write(db, [again, same_group, repeat_in_group, other_account])
    assert outcomes == [
        Accepted(first.subject_id, 0, duplicate=True),
        Accepted(same_group.subject_id, 10),
        Accepted(same_group.subject_id, 0, duplicate=True),
        Accepted(other_account.subject_id, 10),
    ]
    assert _state(db, alice) == (80, 80, 2, 2)


def test_a_failed_generation_is_not_a_duplicate(db: Database) -> None:
    alice = _account(db, 100)
    first = _submission(alice, request_hash="h")
    _write(db, [first])
    with db.transaction() as session:
        generation = session.get(Generation, first.subject_id)
        assert generation is not None
        generation.status = "FAILED"
    again = _submission(alice, request_hash="h")
    assert _write(db, [again]) == [Accepted(again.subject_id, 10)]


def test_a_repeat_of_a_refused_request_is_refused_too(db: Database) -> None:
    alice = _account(db, 5)
    subs = [_submission(alice, request_hash="h"), _submission(alice, request_hash="h")]
    assert _write(db, subs) == [Refused("credits"), Refused("credits")]
    assert _state(db, alice) == (5, 5, 0, 0)


@pytest.mark.databases("postgresql")
def test_an_identical_request_on_two_nodes_at_once_runs_once(database_url: str) -> None:
    """Node B's group waits for node A's to commit, then finds A's generation."""
    node_a, node_b = Database(database_url), Database(database_url)
    alice = _account(node_a, 100)
    first, second = _submission(alice, request_hash="same"), _submission(alice, request_hash="same")
    results: list[Accepted | Refused] = []
    with node_a.transaction() as session:
        assert write_group(session, [first]) == [Accepted(first.subject_id, 10)]
        thread = threading.Thread(target=lambda: results.extend(_write(node_b, [second])))
        thread.start()
        thread.join(timeout=0.5)
        assert thread.is_alive()  # waiting for node A's lock on the account
    thread.join(timeout=30)
    assert results == [Accepted(first.subject_id, 0, duplicate=True)]
    assert _state(node_a, alice) == (90, 90, 1, 1)
    node_a.dispose()
    node_b.dispose()
