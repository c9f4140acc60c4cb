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

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


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
        # SQLite has one writer at a time. Threads of this process take turns here, woken
        # the moment the lock is free, instead of polling SQLite's busy handler, whose
        # growing sleeps (up to 100 ms) turn contention into long tails. Other processes
        # on the same file still meet at SQLite's own lock.
        self._sqlite_writer = threading.RLock()
        self._write_lock = self._sqlite_writer if self.is_sqlite else contextlib.nullcontext()

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
    def transaction_if_free(self) -> Iterator[Session]:
        """:meth:`transaction`, or :class:`WriteLockBusy` at once instead of waiting for the lock.

        For callers that must not block (an event loop): on SQLite, if another thread of
        this process or another process is writing, nothing happens and the caller can
        hand the work to a thread that may wait. PostgreSQL has no such lock to wait
        for; there this is :meth:`transaction`.
        """
        if not self.is_sqlite:
            with self.transaction() as session:
                yield session
            return
        if not self._sqlite_writer.acquire(blocking=False):
            raise WriteLockBusy
        try:
            session = self._sessions()
            try:
                session.connection(execution_options={"sqlite_begin": "IMMEDIATE", "sqlite_wait": False})
            except OperationalError as exc:
                session.close()
                if "locked" in str(exc.orig) or "busy" in str(exc.orig):
                    raise WriteLockBusy from exc
                raise
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        finally:
            self._sqlite_writer.release()

    def dispose(self) -> None:
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
        options = connection.get_execution_options()
        mode = options.get("sqlite_begin", "DEFERRED")
        if options.get("sqlite_wait", True):
            connection.exec_driver_sql(f"BEGIN {mode}")
            return
        connection.exec_driver_sql("PRAGMA busy_timeout=0")  # fail at once if the lock is taken
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
