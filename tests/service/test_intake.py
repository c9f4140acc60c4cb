"""The intake thread: submissions from many threads, failures, shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sfumato.service.intake import Intake
from sfumato.store import Database, accounts, credits, queue
from sfumato.store.commits import JOBS
from sfumato.store.database import WriteLockBusy
from sfumato.store.intake import Accepted, Outcome
from sfumato.store.models import Generation
from tests.store.test_intake import _account, _submission


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _balance(db: Database, account_id: str) -> int:
    with db.read() as session:
        account = accounts.get_account(session, account_id)
        assert account is not None
        return account.credit_balance


def test_submissions_from_many_threads_are_each_recorded_once(db: Database) -> None:
    alice, bob = _account(db, 10_000, "alice"), _account(db, 10_000, "bob")
    commits: list[str] = []
    db.commits.subscribe(JOBS, commits.append)  # workers hear of each committed group
    intake = Intake(db)
    futures: list[Future[Outcome]] = []
    lock = threading.Lock()

    def client(account_id: str) -> None:
        for _ in range(25):
            future = intake.submit(_submission(account_id, cost=3))
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=client, args=(who,)) for who in (alice, bob, alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = [future.result(timeout=60) for future in futures]
    intake.close()
    assert all(isinstance(o, Accepted) and o.cost == 3 for o in outcomes)
    assert len({o.subject_id for o in outcomes if isinstance(o, Accepted)}) == 100
    assert _balance(db, alice) == _balance(db, bob) == 10_000 - 50 * 3
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Generation)) == 100
        assert queue.queued_count(session, alice) == queue.queued_count(session, bob) == 50
        assert credits.ledger_sum(session, alice) == 10_000 - 150
    assert 1 <= len(commits) <= 100  # workers are woken once per committed group


def test_a_failed_transaction_fails_its_group_and_the_intake_goes_on(db: Database) -> None:
    alice = _account(db, 100)
    intake = Intake(db)
    first = _submission(alice)
    assert intake.submit(first).result(timeout=30) == Accepted(first.subject_id, 10)
    clash = _submission(alice)
    clash.subject["id"] = first.subject_id  # the same primary key twice
    with pytest.raises(IntegrityError):
        intake.submit(clash).result(timeout=30)
    assert _balance(db, alice) == 90  # the failed group's debit was rolled back
    after = _submission(alice)
    assert intake.submit(after).result(timeout=30) == Accepted(after.subject_id, 10)
    intake.close()
    assert _balance(db, alice) == 80


def test_close_records_what_is_waiting(db: Database) -> None:
    alice = _account(db, 1000)
    intake = Intake(db)
    futures = [intake.submit(_submission(alice, cost=1)) for _ in range(30)]
    intake.close()
    assert all(future.done() for future in futures)
    assert _balance(db, alice) == 970


def test_on_the_event_loop_a_turns_submissions_are_one_group(db: Database) -> None:
    alice = _account(db, 1000)
    commits: list[str] = []
    db.commits.subscribe(JOBS, commits.append)  # workers hear of each committed group
    intake = Intake(db)

    async def burst() -> list[Outcome]:
        return list(await asyncio.gather(*(intake.record(_submission(alice, cost=2)) for _ in range(20))))

    outcomes = asyncio.run(burst())
    assert all(isinstance(o, Accepted) for o in outcomes)
    assert _balance(db, alice) == 960
    if db.is_sqlite:
        assert len(commits) == 1  # one transaction for the turn
    else:
        assert 1 <= len(commits) <= 20  # the thread groups whatever is waiting


@pytest.mark.databases("sqlite")
def test_when_another_process_is_writing_the_loop_hands_the_group_to_the_thread(
    db: Database, database_url: str
) -> None:
    alice = _account(db, 1000)
    intake = Intake(db)
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    with pytest.raises(WriteLockBusy), db.transaction_if_free():
        pass

    async def submit_while_locked() -> Outcome:
        task = asyncio.ensure_future(intake.record(_submission(alice, cost=5)))
        await asyncio.sleep(0.3)
        assert not task.done()  # waiting in the thread, not failing
        loop_is_free = await asyncio.wait_for(asyncio.sleep(0, result=True), timeout=1)
        assert loop_is_free
        other.execute("COMMIT")
        return await asyncio.wait_for(task, timeout=30)

    outcome = asyncio.run(submit_while_locked())
    intake.close()
    other.close()
    assert isinstance(outcome, Accepted) and outcome.cost == 5
    assert _balance(db, alice) == 995
