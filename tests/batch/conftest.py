"""A live sfumato on a loopback port (uvicorn in a thread, API + worker), shared by a module.

``sfumato batch`` is an HTTP client: it needs a real socket, its outputs' signed URLs and
the server's webhooks to reach it. A recorder in front of the app counts every request by
method, path and status, so tests can tell a download or a submission that happened twice.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service.context import Context
from sfumato.service.keys import IssuedKey, issue_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorder:
    """ASGI middleware: (method, path, status) of every HTTP request answered."""

    app: ASGIApp
    calls: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.calls[(scope["method"], scope["path"], int(message["status"]))] += 1
            await send(message)

        await self.app(scope, receive, record)

    def count(self, method: str, prefix: str, status: int | None = None) -> int:
        return sum(n for (m, path, s), n in self.calls.items()
                   if m == method and path.startswith(prefix) and status in (None, s))  # fmt: skip


@dataclass
class LiveServer:
    url: str
    ctx: Context
    recorder: Recorder

    def key(self, username: str, **kwargs: Any) -> IssuedKey:
        return issue_key(self.ctx, username=username, credits_amount=10**7, **kwargs)

    def debits(self, account_id: str) -> list[tuple[str, int]]:
        """(generation id, amount) of every debit the ledger holds for the account."""
        with self.ctx.db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT subject_id, amount FROM credit_ledger WHERE account_id = :a AND kind = 'debit'"),
                {"a": account_id},
            ).all()
        return [(str(subject), -int(amount)) for subject, amount in rows]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[LiveServer]:
    from sfumato.store.migrate import upgrade

    home = tmp_path_factory.mktemp("batch-server")
    port = free_port()
    database_url = f"sqlite:///{home / 'sfumato.db'}"
    upgrade(database_url)
    settings = Settings(
        home=home, database_url=database_url, models_dir=models_dir, device="cpu", poll_seconds=0.05,
        public_url=f"http://127.0.0.1:{port}", webhook_allow_hosts="127.0.0.1", webhook_poll_seconds=0.2,
        concurrency_slots=8, realtime_warm=False, upscaler="tiny-esrgan",
        model_aliases={"MOTION2": "tiny-ltx-video"},
    )  # fmt: skip
    ctx = build_context(settings)
    recorder = Recorder(create_app(settings, context=ctx))
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="batch-live-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the live server did not start"
        time.sleep(0.05)
    assert httpx.get(url + "/readyz").status_code == 200
    try:
        yield LiveServer(url=url, ctx=ctx, recorder=recorder)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
