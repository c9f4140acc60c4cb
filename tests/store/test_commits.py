"""Commit signals: heard once the announcing transaction commits, never before, never on rollback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sfumato.store import Database, commits, queue
from sfumato.store.intake import write_group
from tests.store.test_intake import _account, _submission


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


def _heard(db: Database, topic: str) -> list[str]:
    keys: list[str] = []
    db.commits.subscribe(topic, keys.append)
    return keys


def test_a_signal_is_heard_after_the_commit_and_not_before(db: Database) -> None:
    heard = _heard(db, commits.REALTIME)
    with db.transaction() as session:
        commits.announce(session, commits.REALTIME, "r-1")
        commits.announce(session, commits.REALTIME, "r-1")  # announced twice, signalled once
        session.flush()
        assert heard == []  # not yet committed: a waiter looking now would find nothing new
    assert heard == ["r-1"]


def test_a_rolled_back_transaction_signals_nothing_now_or_later(db: Database) -> None:
    heard = _heard(db, commits.JOBS)
    with pytest.raises(RuntimeError), db.transaction() as session:
        commits.announce(session, commits.JOBS)
        raise RuntimeError("the use-case failed")
    with db.transaction() as session:  # the next commit carries nothing of the rolled-back one
        session.connection()
    assert heard == []


def test_only_the_announced_topic_is_signalled(db: Database) -> None:
    jobs, webhooks = _heard(db, commits.JOBS), _heard(db, commits.WEBHOOKS)
    with db.transaction() as session:
        commits.announce(session, commits.WEBHOOKS)
    assert (jobs, webhooks) == ([], [commits.ANY])


def test_core_statements_of_a_session_signal_with_its_commit(db: Database) -> None:
    # The intake's thread writes with Core statements on the session's connection.
    heard = _heard(db, commits.JOBS)
    account = _account(db, 100)
    with db.transaction() as session:
        write_group(session, [_submission(account, cost=1)])
        assert heard == []
    assert heard == [commits.ANY]


def test_a_core_transaction_signals_with_its_commit(db: Database) -> None:
    heard = _heard(db, commits.JOBS)
    account = _account(db, 100)
    with db.transaction_if_free() as connection:
        write_group(connection, [_submission(account, cost=1)])
        assert heard == []
    assert heard == [commits.ANY]
    with pytest.raises(RuntimeError), db.transaction_if_free() as connection:
        queue.notify(connection)
        raise RuntimeError("rolled back")
    assert heard == [commits.ANY]


def test_a_failing_subscriber_does_not_hide_the_signal_from_the_others(db: Database) -> None:
    def broken(_key: str) -> None:
        raise ValueError("broken subscriber")

    db.commits.subscribe(commits.JOBS, broken)
    heard = _heard(db, commits.JOBS)
    with db.transaction() as session:
        queue.notify(session)
    assert heard == [commits.ANY]


def test_an_unsubscribed_callback_hears_nothing(db: Database) -> None:
    heard: list[str] = []
    unsubscribe = db.commits.subscribe(commits.JOBS, heard.append)
    unsubscribe()
    with db.transaction() as session:
        queue.notify(session)
    assert heard == []


@pytest.mark.databases("postgresql")  # NOTIFY is PostgreSQL's
def test_another_process_hears_the_signal_through_notify(db: Database, database_url: str) -> None:
    elsewhere = Database(database_url)  # connections of its own, as another process has
    heard = threading.Event()
    keys: list[str] = []
    elsewhere.commits.subscribe(commits.REALTIME, lambda key: (keys.append(key), heard.set()))
    stop = elsewhere.commits.listen()
    try:
        assert _wait_until(lambda: elsewhere.commits.hears_others)
        keys.clear()  # the listener's "look again" on connecting
        heard.clear()
        with db.transaction() as session:
            commits.announce(session, commits.REALTIME, "r-9")
        assert heard.wait(5)
        assert "r-9" in keys
    finally:
        stop()
        elsewhere.dispose()
    assert not elsewhere.commits.hears_others


def test_on_sqlite_listening_is_nothing() -> None:
    signals = commits.Commits("sqlite:///unused.db")
    signals.listen()()
    assert not signals.hears_others


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
