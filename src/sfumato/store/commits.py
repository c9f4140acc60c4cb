"""Commit signals: "something was committed", heard at once by whoever waits for it.

A writer *announces* a topic inside its transaction (:func:`announce`): jobs were queued,
a webhook event was written, a realtime request ended. Once the transaction commits —
never before, never after a rollback — its database's :class:`Commits` calls the
subscribers of that topic in this process. Another process that listens
(:meth:`Commits.listen`) hears it too: on PostgreSQL the transaction also sends ``NOTIFY``
on the topic's channel (delivered at commit as well); on a SQLite file the committing
process sends it to the other processes' sockets once committed (store/socket_signals.py).
A signal says only "look again": the rows stay the only truth, and every waiter still
looks now and then in case a signal was lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from sfumato.store import socket_signals
from sfumato.store.notify_listener import NotifyListener
from sfumato.store.socket_signals import SocketListener

log = logging.getLogger(__name__)

JOBS = "jobs"  # jobs were queued (or handed back to the queue)
WEBHOOKS = "webhooks"  # webhook events are due
REALTIME = "realtime"  # a realtime request ended; the key is its id
GENERATIONS = "generations"  # a generation ended (or has a new preview); the key is its id
TOPICS = (JOBS, WEBHOOKS, REALTIME, GENERATIONS)
ANY = ""  # the key of a signal about no one thing in particular: every waiter looks again

_PENDING = "sfumato.commit_signals"  # where a transaction keeps what it announced

Subscriber = Callable[[str], None]  # called with the signal's key, on the committing thread
Signal = tuple[str, str]  # (topic, key)


def channel(topic: str) -> str:
    """The PostgreSQL ``NOTIFY`` channel of ``topic``."""
    return f"sfumato_{topic}"


def announce(bind: Session | Connection, topic: str, key: str = ANY) -> None:
    """Signal ``topic`` (about ``key``) once the transaction of ``bind`` commits."""
    pending: set[Signal] = bind.info.setdefault(_PENDING, set())
    if (topic, key) in pending:
        return
    pending.add((topic, key))
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name == "postgresql":
        bind.execute(text("SELECT pg_notify(:channel, :key)"), {"channel": channel(topic), "key": key})


def take_pending(bind: Session | Connection) -> set[Signal]:
    """What the transaction of ``bind`` announced, forgotten there (it committed or rolled back)."""
    signals: set[Signal] = bind.info.pop(_PENDING, set())
    return signals


def adopt(session: Session, connection: Connection) -> None:
    """Move what was announced on ``connection`` (the session's own) to ``session``."""
    signals = take_pending(connection)
    if signals:
        session.info.setdefault(_PENDING, set()).update(signals)


class Commits:
    """The subscribers of one database's commit signals in this process, and its listener."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._subscribers: dict[str, list[Subscriber]] = {topic: [] for topic in TOPICS}
        self._lock = threading.Lock()
        self._listener: NotifyListener | SocketListener | None = None
        self._listeners = 0  # how many asked to hear other processes
        # On a SQLite file, the other processes' sockets; PostgreSQL sends NOTIFY itself.
        self._sockets = socket_signals.directory_for(url) if url.startswith("sqlite") else None
        self._peers = socket_signals.Peers(self._sockets) if self._sockets is not None else None

    def subscribe(self, topic: str, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(key)`` on every ``topic`` signal; returns the unsubscribe call."""
        with self._lock:
            self._subscribers[topic] = [*self._subscribers[topic], subscriber]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers[topic] = [s for s in self._subscribers[topic] if s is not subscriber]

        return unsubscribe

    def fire(self, signals: Iterable[Signal]) -> None:
        """Tell the subscribers: the transaction that announced ``signals`` committed."""
        for topic, key in signals:
            for subscriber in self._subscribers[topic]:
                try:
                    subscriber(key)
                except Exception:  # one subscriber's fault must not hide the signal from the rest
                    log.exception("a subscriber of %r commit signals failed", topic)

    def committed(self, signals: set[Signal]) -> None:
        """A transaction of this process that announced ``signals`` committed: tell the
        subscribers here, and on SQLite the other processes that listen."""
        if not signals:
            return
        self.fire(signals)
        if self._peers is not None:
            listener = self._listener
            self._peers.send(signals, exclude=listener.path if isinstance(listener, SocketListener) else None)

    def listen(self) -> Callable[[], None]:
        """Hear other processes' signals too: PostgreSQL ``LISTEN``, or a socket beside a
        SQLite file (nothing for a database in memory, which no other process opens).
        Returns the call that stops listening; the connection or socket closes when the
        last listener stops."""
        if not self._url.startswith("postgresql") and self._sockets is None:
            return lambda: None
        with self._lock:
            self._listeners += 1
            if self._listener is None:
                self._listener = self._start_listener()  # None: it could not; polling it is
        released = threading.Event()

        def stop() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._listeners -= 1
                listener = self._listener if self._listeners == 0 else None
                if listener is not None:
                    self._listener = None
            if listener is not None:
                listener.stop()

        return stop

    def close(self) -> None:
        if self._peers is not None:
            self._peers.close()

    def _start_listener(self) -> NotifyListener | SocketListener | None:
        if self._sockets is not None:
            try:
                return SocketListener(self._sockets, TOPICS, self.fire_one).start()
            except OSError as exc:  # say, a read-only directory beside the database
                log.warning("cannot hear other processes' commits at %s (%s); polling", self._sockets, exc)
                return None
        return NotifyListener(self._url, [channel(topic) for topic in TOPICS], self._heard).start()

    @property
    def hears_others(self) -> bool:
        """Whether other processes' signals reach this one now (a listener is connected)."""
        listener = self._listener
        return listener is not None and listener.listening.is_set()

    def fire_one(self, topic: str, key: str) -> None:
        """Tell the subscribers of ``topic`` (if it is one) what another process signalled."""
        if topic in self._subscribers:
            self.fire([(topic, key)])

    def _heard(self, channel_name: str, key: str) -> None:
        self.fire_one(channel_name.removeprefix("sfumato_"), key)
