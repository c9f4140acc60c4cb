"""Engine and session handling for SQLite (embedded) and PostgreSQL (scaled).

SQLite runs in WAL mode with a busy timeout; write transactions begin IMMEDIATE so
that two writers queue for the lock instead of failing half-way. PostgreSQL uses
ordinary transactions and row locks (``FOR UPDATE SKIP LOCKED``) for queue claims.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sfumato.store import commits


class WriteLockBusy(Exception):
    """Another writer holds SQLite's write lock (see :meth:`Database.transaction_if_free`)."""


BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for the lock before failing


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # What a transaction announced (store/commits.py) is signalled once it committed.
        self.commits = commits.Commits(url)
        event.listen(self._sessions, "before_commit", self._committing)
        event.listen(self._sessions, "after_commit", self._committed)
        event.listen(self._sessions, "after_soft_rollback", lambda s, _t: commits.take_pending(s))
        event.listen(self.engine, "rollback", commits.take_pending)
        # SQLite has one writer at a time. Threads of this process take turns here, woken
        # the moment the lock is free, instead of polling SQLite's busy handler, whose
        # growing sleeps (up to 100 ms) turn contention into long tails. Other processes
        # on the same file still meet at SQLite's own lock.
        self._sqlite_writer = threading.RLock()
        self._write_lock = self._sqlite_writer if self.is_sqlite else contextlib.nullcontext()
        self._never_waits: Connection | None = None  # see transaction_if_free

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reads; nothing it does is committed."""
        with self._sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits as one unit, or not at all."""
        with self._write_lock:
            session = self._sessions()
            if self.is_sqlite:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def transaction_if_free(self) -> Iterator[Connection]:
        """A Core transaction, or :class:`WriteLockBusy` at once instead of waiting for the lock.

        For a caller that must not block (the event loop): on SQLite, if another thread of
        this process or another process is writing, nothing happens and the caller can
        hand the work to a thread that may wait. It runs on a connection kept for this
        purpose, whose busy timeout is zero; the write lock of this process is held
        around it, so it is never used by two threads at once. PostgreSQL has no such
        lock to wait for: there this is an ordinary transaction.
        """
        if not self.is_sqlite:
            with self.engine.connect() as connection, self._signalling(connection), connection.begin():
                yield connection
            return
        if not self._sqlite_writer.acquire(blocking=False):
            raise WriteLockBusy
        try:
            connection = self._connection_that_never_waits()
            try:
                transaction = connection.begin()
            except OperationalError as exc:
                connection.rollback()
                if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                    raise WriteLockBusy from exc
                raise
            with self._signalling(connection), transaction:
                yield connection
        finally:
            self._sqlite_writer.release()

    def _committing(self, session: Session) -> None:
        """What was announced on the session's connection (Core statements) joins the session's."""
        if session.in_transaction():
            commits.adopt(session, session.connection())

    def _committed(self, session: Session) -> None:
        self.commits.committed(commits.take_pending(session))

    @contextmanager
    def _signalling(self, connection: Connection) -> Iterator[Connection]:
        """Signal what a Core transaction on ``connection`` announced, once it committed."""
        try:
            yield connection
        except BaseException:
            commits.take_pending(connection)
            raise
        self.commits.committed(commits.take_pending(connection))

    def _connection_that_never_waits(self) -> Connection:
        if self._never_waits is None:
            connection = self.engine.connect()
            connection.exec_driver_sql("PRAGMA busy_timeout=0")
            connection.commit()
            self._never_waits = connection.execution_options(sqlite_begin="IMMEDIATE")
        return self._never_waits

    def dispose(self) -> None:
        with self._sqlite_writer:
            if self._never_waits is not None:
                self._never_waits.close()
                self._never_waits = None
        self.commits.close()
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
