"""Stopping a worker process: finish what is in flight, or hand it back — never strand it.

The first SIGTERM (or SIGINT) stops the worker claiming and lets the jobs in flight
finish. If they are still running ``grace_seconds`` later, or a second signal arrives,
the worker hands them back to the queue (no attempt spent, no credit touched) and exits
at once, so another worker can start them without waiting for their lease to expire.
Set the grace below the time your process manager waits before SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from sfumato.worker.loop import Worker

log = logging.getLogger(__name__)


def stop_gracefully_on_signals(worker: Worker, *, grace_seconds: float) -> None:
    """Install SIGTERM and SIGINT handlers for ``worker``'s process (call from the main thread)."""

    def hurry() -> None:
        log.warning("worker %s: shutdown grace over; handing back its jobs", worker.worker_id)
        try:
            worker.hand_back()
            worker.withdraw()
        finally:
            os._exit(0)  # the engine may be mid-call; nothing of it is worth waiting for

    def on_signal(signum: int, _frame: object) -> None:
        if worker.stopping:
            hurry()
        log.info("worker %s: %s; finishing %d job(s) in flight", worker.worker_id,
                 signal.Signals(signum).name, len(worker.in_flight()))  # fmt: skip
        worker.stop()
        timer = threading.Timer(grace_seconds, hurry)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
