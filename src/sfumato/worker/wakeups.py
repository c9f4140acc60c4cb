"""Wake-ups: how an idle worker learns, within milliseconds, that a job was queued.

In the embedded shape the API calls ``Worker.wake`` in-process. In the scaled shape the
enqueueing transaction sends PostgreSQL ``NOTIFY`` (delivered at commit, so the job is
visible by the time a worker hears of it) and every worker ``LISTEN``s on a connection of
its own. Polling stays on as the fallback: a dropped connection or a lost notification
costs at most one poll interval, never a job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from sfumato.store.queue import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0


def libpq_url(sqlalchemy_url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (``postgresql+psycopg://`` → ``postgresql://``)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class NotifyListener:
    """Calls ``on_wake`` whenever a job is queued anywhere on the PostgreSQL database at ``url``."""

    def __init__(self, url: str, on_wake: Callable[[], None]) -> None:
        self._url = libpq_url(url)
        self._on_wake = on_wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="notify-listener", daemon=True)
        self.listening = threading.Event()

    def start(self) -> NotifyListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    self._on_wake()  # anything queued while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self._on_wake()
            except Exception as exc:  # the database restarted or the network blinked
                self.listening.clear()
                log.warning("LISTEN %s failed (%s); polling until it is back", NOTIFY_CHANNEL, exc)
                self._stop.wait(RECONNECT_SECONDS)
