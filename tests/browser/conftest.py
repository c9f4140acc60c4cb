"""One live sfumato (uvicorn in a thread, tiny models, SQLite) and one Chromium for the studio's tests.

The browser is Debian's ``chromium`` package (``/usr/bin/chromium``, installed by ``make test``
when it can), driven by Playwright for Python; Playwright's own browser downloads are never
used. Without the browser the tests are skipped, saying why, except under CI (``CI`` set),
where they fail: a CI run that quietly skipped them would pass without testing the studio.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service.context import Context
from sfumato.service.keys import issue_key
from sfumato.store.migrate import upgrade

CHROMIUM = os.environ.get("SFUMATO_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "studio"
# De-duplication off: the same request sent by the page and by its API code makes two generations.
TINY = {"realtime_model": "tiny-lcm", "upscaler": "tiny-esrgan", "segmenter": "tiny-mask2former",
        "svd_model": "tiny-svd", "realtime_warm": False, "realtime_timeout_seconds": 180,
        "dedupe_window_seconds": 0, "training_base_models": {"v1_5": "tiny-sd15", "SDXL_1_0": "tiny-sd15"},
        "training_max_steps": 6, "training_checkpoint_steps": 3,
        "training_suite": ["{instance}", "{instance} at night"],
        "model_aliases": {"MOTION2": "tiny-ltx-video"},
        "webhook_allow_hosts": "127.0.0.1/32", "webhook_poll_seconds": 0.05}  # fmt: skip


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so the studio's browser tests may not be skipped")
    pytest.skip(reason)


@dataclass
class LiveServer:
    url: str
    ctx: Context
    key: str
    user_id: str


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[LiveServer]:
    import uvicorn

    home = tmp_path_factory.mktemp("studio")
    database_url = f"sqlite:///{home / 'sfumato.db'}"
    upgrade(database_url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    settings = Settings(home=home / "home", database_url=database_url, models_dir=models_dir, device="cpu",
                        poll_seconds=0.05, public_url=url, **TINY)  # fmt: skip
    ctx = build_context(settings)
    app = create_app(settings, context=ctx)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="studio-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    issued = issue_key(ctx, username="studio-user", credits_amount=10_000)
    try:
        yield LiveServer(url=url, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def require_chromium(path: str = CHROMIUM) -> None:
    """Skip (or, under CI, fail) when the browser is missing."""
    if not (Path(path).is_file() or shutil.which(path)):
        _unavailable(f"{path} is missing (Debian's chromium; `make test` installs it when it can)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored): kept after the run for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def api(server: LiveServer, method: str, path: str, **kw: object) -> httpx.Response:
    """The public API with the live server's key, as any client calls it."""
    headers = {"authorization": f"Bearer {server.key}"}
    return httpx.request(method, f"{server.url}/api/rest/v1{path}", headers=headers, timeout=60, **kw)  # type: ignore[arg-type]
