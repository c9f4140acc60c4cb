"""/docs and /redoc in Chromium with every request to another host blocked: the explorer
renders sfumato's operations from assets it serves itself, and lets a key try one."""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn

from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.store.migrate import upgrade

CHROMIUM = os.environ.get("SFUMATO_TEST_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (SFUMATO_TEST_CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    home = tmp_path_factory.mktemp("browser-docs")
    url = f"sqlite:///{home / 'db.sqlite'}"
    upgrade(url)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = build_context(Settings(home=home, database_url=url, device="cpu"))
    key = issue_key(ctx, username="explorer").api_key
    app = create_app(ctx.settings, with_worker=False, context=ctx)
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(200):
        if uv.started:
            started.set()
            break
        threading.Event().wait(0.05)
    assert started.is_set(), "the server did not start"
    yield f"http://127.0.0.1:{port}", key
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(server: tuple[str, str]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def _offline_page(browser: object, origin: str) -> tuple[object, list[str]]:
    """A page whose requests to any other origin are aborted (and remembered), as are the
    errors its scripts log (a script the page's content policy refused, say)."""
    context = browser.new_context()  # type: ignore[attr-defined]
    blocked: list[str] = []

    def route(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or f"{parts.scheme}://{parts.netloc}" == origin:
            route.continue_()  # type: ignore[attr-defined]
        else:
            blocked.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda message: _console(message, blocked))
    page.on("pageerror", lambda error: blocked.append(f"error: {error}"))
    return page, blocked


def _console(message: object, blocked: list[str]) -> None:
    text = str(message.text)  # type: ignore[attr-defined]
    if message.type != "error":  # type: ignore[attr-defined]
        return
    # The content policy keeping a decorative image of another origin from loading (ReDoc's
    # footer logo) is the policy at work: the browser sent nothing. Anything else counts.
    if text.startswith("Loading the image 'http") and "Content Security Policy" in text:
        return
    blocked.append(f"console: {text}")


def test_swagger_ui_renders_every_operation_offline_and_tries_one_with_a_key(
    browser: object, server: tuple[str, str]
) -> None:
    origin, key = server
    page, blocked = _offline_page(browser, origin)
    page.goto(f"{origin}/docs")  # type: ignore[attr-defined]
    page.wait_for_selector(".opblock", timeout=20_000)  # type: ignore[attr-defined]
    operations = page.locator(".opblock").count()  # type: ignore[attr-defined]
    assert operations >= 50
    paths = page.locator(".opblock-summary-path").all_inner_texts()  # type: ignore[attr-defined]
    assert "/api/rest/v1/generations" in [path.replace("\u200b", "") for path in paths]
    # the bearer scheme is offered: the Authorize dialog takes a key …
    page.click("button.authorize")  # type: ignore[attr-defined]
    page.fill(".auth-container input", key)  # type: ignore[attr-defined]
    page.click(".auth-btn-wrapper button.authorize")  # type: ignore[attr-defined]
    page.click(".auth-btn-wrapper button.btn-done")  # type: ignore[attr-defined]
    # … and an operation tried from the page answers with the caller's account
    page.click('.opblock-summary-path[data-path="/api/rest/v1/me"]')  # type: ignore[attr-defined]
    page.click(".opblock.is-open button.execute")  # type: ignore[attr-defined]
    status = page.locator(".opblock.is-open .live-responses-table .response .response-col_status").first  # type: ignore[attr-defined]
    status.wait_for(timeout=10_000)
    assert status.inner_text().strip() == "200"
    body = page.locator(".opblock.is-open .live-responses-table .microlight").first.inner_text()  # type: ignore[attr-defined]
    assert '"explorer"' in body  # the account the key belongs to
    assert blocked == []


def test_redoc_renders_offline(browser: object, server: tuple[str, str]) -> None:
    origin, _key = server
    page, blocked = _offline_page(browser, origin)
    page.goto(f"{origin}/redoc")  # type: ignore[attr-defined]
    page.wait_for_selector("h1", timeout=20_000)  # type: ignore[attr-defined]
    assert page.locator("h1").first.inner_text().startswith("sfumato")  # type: ignore[attr-defined]
    # an operation of the document, with its path, is rendered
    operation = page.get_by_text("/api/rest/v1/generations-lcm").first  # type: ignore[attr-defined]
    operation.wait_for(state="attached", timeout=20_000)
    assert blocked == []
