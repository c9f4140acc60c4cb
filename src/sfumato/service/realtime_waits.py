"""Waiting for realtime requests to end, on the event loop: no thread is held per waiter.

A waiter registers its request's id and awaits an :class:`asyncio.Event`; the ``realtime``
commit signal (store/commits.py) sets it as soon as the transaction that ended the request
commits — at once when the worker runs in this process, through PostgreSQL ``NOTIFY`` when
it runs in another. The waiter then reads the row, which stays the only truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sfumato.store import commits

Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


class RealtimeWaits:
    """Waiters for the ends of one topic's subjects: realtime requests, or (the ``generations``
    topic) generations a synchronous surface answers with."""

    def __init__(self, signals: commits.Commits, *, listen: bool, topic: str = commits.REALTIME) -> None:
        self._signals = signals
        self._listen = listen
        self._waiting: dict[str, list[Waiter]] = {}
        self._lock = threading.Lock()
        self._stop_listening: Callable[[], None] | None = None
        self._unsubscribe = signals.subscribe(topic, self._ended)

    @contextmanager
    def watching(self, request_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``request_id`` (or, after a lost connection, any request) may
        have ended; for the coroutine that awaits it, on its event loop."""
        waiter = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self._listen and self._stop_listening is None:
                self._stop_listening = self._signals.listen()  # workers of other processes
            self._waiting.setdefault(request_id, []).append(waiter)
        try:
            yield waiter[1]
        finally:
            with self._lock:
                waiters = self._waiting.get(request_id, [])
                if waiter in waiters:
                    waiters.remove(waiter)
                if not waiters:
                    self._waiting.pop(request_id, None)

    @property
    def hears_others(self) -> bool:
        """Whether requests ended by workers of other processes are signalled here now."""
        return self._signals.hears_others

    def close(self) -> None:
        self._unsubscribe()
        with self._lock:
            stop, self._stop_listening = self._stop_listening, None
        if stop is not None:
            stop()

    def _ended(self, request_id: str) -> None:
        """On the committing thread: wake the request's waiters (every waiter for ``ANY``)."""
        with self._lock:
            if request_id == commits.ANY:
                waiters = [w for ws in self._waiting.values() for w in ws]
            else:
                waiters = list(self._waiting.get(request_id, ()))
        for loop, event in waiters:
            with contextlib.suppress(RuntimeError):  # a closed loop: its waiter is gone
                loop.call_soon_threadsafe(event.set)
