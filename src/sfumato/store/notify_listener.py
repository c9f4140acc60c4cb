"""A PostgreSQL ``LISTEN`` connection of its own, on a thread of its own.

Notifications are delivered at commit, so whatever a notification is about is visible by
the time it is heard. Polling stays on beside it as the fallback: a dropped connection or a
lost notification costs its waiters at most one poll interval, never a job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0
ANY = ""


def libpq_url(sqlalchemy_url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (``postgresql+psycopg://`` → ``postgresql://``)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class NotifyListener:
    """Calls ``on_notify(channel, payload)`` for each notification on ``channels``.

    On every (re)connection it also calls ``on_notify(channel, "")`` for each channel: what
    was sent while it was not listening is lost, so its waiters should look again.
    """

    def __init__(self, url: str, channels: Sequence[str], on_notify: Callable[[str, str], None]) -> None:
        self._url = libpq_url(url)
        self._channels = tuple(channels)
        self._on_notify = on_notify
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
                    for name in self._channels:
                        conn.execute(f"LISTEN {name}")
                    self.listening.set()
                    for name in self._channels:  # anything sent while we were not listening
                        self._on_notify(name, ANY)
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=1.0):
                            self._on_notify(notice.channel, notice.payload)
            except Exception as exc:  # the database restarted or the network blinked
                self.listening.clear()
                log.warning("LISTEN failed (%s); polling until it is back", exc)
                self._stop.wait(RECONNECT_SECONDS)
