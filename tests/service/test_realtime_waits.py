"""Realtime requests are awaited on the event loop, woken by the commit signal: no thread
is held per waiting request, and no poll is needed when the worker shares the process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from sfumato.errors import TimedOut
from sfumato.service import realtime
from sfumato.service.keys import authenticate
from sfumato.service.realtime_waits import RealtimeWaits
from sfumato.store import Database, commits
from tests.api.canvas import canvas_app, data_url, noise


def _request(seed: int = 1) -> realtime.CanvasRequest:
    return realtime.CanvasRequest(
        operation=realtime.GENERATE, prompt="a lighthouse", image_data_url=data_url(noise()),
        width=64, height=64, seed=seed,
    )  # fmt: skip


@pytest.mark.databases("sqlite")
def test_many_waiting_requests_hold_no_threads(database_url: str, tmp_path: Path, models_dir: Path) -> None:
    # Far more waiters than the default executor's threads (at most 32): had each held a
    # thread while waiting, they would time out in turns, not together.
    waiters, timeout = 80, 2.0
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False,
                    realtime_timeout_seconds=timeout) as api:  # fmt: skip
        principal = authenticate(api.ctx, f"Bearer {api.key}")

        async def all_at_once() -> list[BaseException | realtime.CanvasResult]:
            calls = (realtime.run_canvas(api.ctx, principal, _request(seed)) for seed in range(waiters))
            return await asyncio.gather(*calls, return_exceptions=True)

        started = time.monotonic()
        results = asyncio.run(all_at_once())
        elapsed = time.monotonic() - started
    assert all(isinstance(result, TimedOut) for result in results), results[:3]
    assert elapsed < 3 * timeout


@pytest.mark.databases("sqlite")
def test_an_in_process_worker_wakes_the_waiter_without_a_poll(
    database_url: str, tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(realtime, "_POLL_FIRST", 60.0)  # a waiter that only polled would look in a minute
    monkeypatch.setattr(realtime, "_POLL_MAX", 60.0)
    with canvas_app(database_url, tmp_path, models_dir) as api:
        principal = authenticate(api.ctx, f"Bearer {api.key}")
        asyncio.run(realtime.run_canvas(api.ctx, principal, _request()))  # loads the model
        started = time.monotonic()
        result = asyncio.run(realtime.run_canvas(api.ctx, principal, _request(seed=2)))
        assert time.monotonic() - started < 30
    assert result.image_png.startswith(b"\x89PNG")


def test_a_request_end_wakes_its_waiters_only_and_a_lost_connection_wakes_all(
    database_url: str,
) -> None:
    db = Database(database_url)
    waits = RealtimeWaits(db.commits, listen=False)

    async def scenario() -> tuple[bool, bool, bool]:
        with waits.watching("a") as a, waits.watching("b") as b:
            with db.transaction() as session:
                commits.announce(session, commits.REALTIME, "a")
            await asyncio.sleep(0.05)
            woken = (a.is_set(), b.is_set())
            a.clear()
            db.commits.fire([(commits.REALTIME, commits.ANY)])  # what a listener says on reconnecting
            await asyncio.sleep(0.05)
            return woken[0], woken[1], a.is_set() and b.is_set()

    try:
        assert asyncio.run(scenario()) == (True, False, True)
    finally:
        waits.close()
        db.dispose()
