"""Commit signals: heard once the announcing transaction commits, never before, never on rollback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sfumato.store import Database, commits, queue, socket_signals
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


class _Heard:
    """What a listening database heard of one topic from elsewhere."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.event = threading.Event()

    def __call__(self, key: str) -> None:
        self.keys.append(key)
        self.event.set()

    def wait_for(self, key: str) -> bool:
        return _wait_until(lambda: key in self.keys)


@contextmanager
def _listening(db: Database, topic: str) -> Iterator[_Heard]:
    """``db`` hearing other processes, past its "look again" on starting."""
    heard = _Heard()
    db.commits.subscribe(topic, heard)
    stop = db.commits.listen()
    try:
        assert _wait_until(lambda: db.commits.hears_others)
        assert heard.event.wait(5)  # the listener's "look again" on starting
        heard.keys.clear()
        yield heard
    finally:
        stop()
    assert not db.commits.hears_others


@contextmanager
def _elsewhere(url: str, topic: str) -> Iterator[_Heard]:
    """A database of its own connections, as another process has, listening for ``topic``."""
    elsewhere = Database(url)
    try:
        with _listening(elsewhere, topic) as heard:
            yield heard
    finally:
        elsewhere.dispose()


def test_another_process_hears_the_signal(db: Database, database_url: str) -> None:
    # PostgreSQL: NOTIFY. A SQLite file: a datagram to each listening process's socket.
    with _elsewhere(database_url, commits.REALTIME) as heard:
        with db.transaction() as session:
            commits.announce(session, commits.REALTIME, "r-9")
        assert heard.wait_for("r-9")


@pytest.mark.databases("sqlite")
def test_a_real_process_committing_to_the_same_file_is_heard(db: Database, database_url: str) -> None:
    script = (
        "import sys\n"
        "from sfumato.store import Database, commits\n"
        "db = Database(sys.argv[1])\n"
        "with db.transaction() as session:\n"
        "    commits.announce(session, commits.JOBS, 'from-elsewhere')\n"
    )
    with _listening(db, commits.JOBS) as heard:
        subprocess.run([sys.executable, "-c", script, database_url], check=True, timeout=120)
        assert heard.wait_for("from-elsewhere")
        assert heard.keys == ["from-elsewhere"]


@pytest.mark.databases("sqlite")
def test_a_process_hears_its_own_commit_once(db: Database) -> None:
    with _listening(db, commits.REALTIME) as heard:
        with db.transaction() as session:
            commits.announce(session, commits.REALTIME, "r-1")
        with _elsewhere(db.url, commits.REALTIME) as second:  # once it hears, the first would have
            with db.transaction() as session:
                commits.announce(session, commits.REALTIME, "r-2")
            assert second.wait_for("r-2")
        assert heard.keys == ["r-1", "r-2"]  # signalled in-process only, not echoed by its own socket


@pytest.mark.databases("sqlite")
def test_the_socket_of_a_process_that_died_is_removed_by_the_next_commit(db: Database) -> None:
    directory = socket_signals.directory_for(db.url)
    assert directory is not None
    directory.mkdir(mode=0o700, exist_ok=True)
    dead = directory / f"999999-deadbeef{socket_signals.SUFFIX}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as gone:  # bound, then its process "died"
        gone.bind(str(dead))
    assert dead.exists()
    with db.transaction() as session:
        queue.notify(session)
    assert not dead.exists()


@pytest.mark.databases("sqlite")
def test_a_listener_that_stops_removes_its_socket(db: Database) -> None:
    stop = db.commits.listen()
    directory = socket_signals.directory_for(db.url)
    assert directory is not None
    assert _wait_until(lambda: db.commits.hears_others)
    assert len(list(directory.glob(f"*{socket_signals.SUFFIX}"))) == 1
    stop()
    assert list(directory.glob(f"*{socket_signals.SUFFIX}")) == []
    assert not db.commits.hears_others


@pytest.fixture
def short_path() -> Iterator[Path]:
    """A directory whose path leaves room for a socket's name (pytest's own can be long)."""
    with tempfile.TemporaryDirectory(prefix="s") as path:
        yield Path(path)


def test_sockets_live_beside_the_file_or_under_the_temporary_directory_when_that_is_too_long(
    short_path: Path,
) -> None:
    beside = socket_signals.directory_for(f"sqlite:///{short_path}/s.db")
    assert beside == Path(os.path.realpath(short_path)) / "s.db.signals"
    deep = short_path / ("d" * 90) / "s.db"
    elsewhere = socket_signals.directory_for(f"sqlite:///{deep}")
    assert elsewhere is not None and elsewhere.parent == Path(tempfile.gettempdir())
    assert elsewhere == socket_signals.directory_for(f"sqlite:///{deep}")  # every process finds it
    assert socket_signals.directory_for("sqlite://") is None
    assert socket_signals.directory_for("sqlite:///:memory:") is None


def test_a_signal_survives_its_trip() -> None:
    signals = [("jobs", ""), ("realtime", "r-1"), ("generations", "g\t2")]
    assert socket_signals.decode(socket_signals.encode(signals)) == signals


def test_listening_to_a_database_in_memory_is_nothing() -> None:
    signals = commits.Commits("sqlite://")
    signals.listen()()
    assert not signals.hears_others


def test_a_directory_no_socket_can_be_made_in_means_polling(short_path: Path) -> None:
    (short_path / "s.db.signals").write_text("a file, not a directory")
    signals = commits.Commits(f"sqlite:///{short_path}/s.db")
    stop = signals.listen()
    assert not signals.hears_others
    stop()


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False
