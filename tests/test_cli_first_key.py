"""The first start's admin key: on a terminal it is shown; anywhere else it goes to a 0600
file and the output (which a log collector may keep) only names that file."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sfumato.config import Settings
from sfumato.first_key import KEY_FILE, hand_over, write_private
from sfumato.service.keys import IssuedKey

KEY = re.compile(rb"sfu_[A-Za-z0-9_-]{43}")
pytestmark = pytest.mark.databases("sqlite")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """`sfumato serve --no-worker` on a fresh database, its stdout wired as the test says."""

    def __init__(self, env: dict[str, str], stdout: int, logs: Path) -> None:
        self.logs = logs
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sfumato.cli", "serve", "--no-worker", "--port", str(self.port)],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1", "SFUMATO_PUBLIC_URL": self.base},
            stdout=stdout,
            stderr=logs.open("wb"),
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.logs.read_text(errors="replace")
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("sfumato serve did not become ready")

    def works(self, key: str) -> bool:
        response = httpx.get(self.base + "/api/rest/v1/me", headers={"authorization": f"Bearer {key}"})
        return response.status_code == 200

    def stop(self) -> tuple[bytes, bytes]:
        """Its standard output (when piped) and its log lines (standard error)."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=30)
        return out or b"", self.logs.read_bytes()


def test_without_a_terminal_the_key_goes_to_a_private_file(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = settings_env
    serve = Serve(env, stdout=subprocess.PIPE, logs=tmp_path / "serve.log")
    try:
        serve.wait_ready()
        path = Path(env["SFUMATO_HOME"]).resolve() / KEY_FILE
        key = path.read_text().strip()
        assert KEY.fullmatch(key.encode()) and serve.works(key)
    finally:
        out, err = serve.stop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path).encode() in out and b"mode 0600" in out
    assert key.encode() not in out + err and not KEY.search(out + err)


def test_on_a_terminal_the_key_is_shown_and_no_file_written(
    settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = settings_env
    controller, terminal = pty.openpty()
    serve = Serve(env, stdout=terminal, logs=tmp_path / "serve.log")
    os.close(terminal)
    shown = b""
    try:
        serve.wait_ready()
        while not KEY.search(shown) and select.select([controller], [], [], 10)[0]:
            shown += os.read(controller, 4096)
        found = KEY.search(shown)
        assert found, shown
        assert serve.works(found.group().decode())
    finally:
        _, logs = serve.stop()
        os.close(controller)
    assert b"shown only once" in shown
    assert not KEY.search(logs)  # the log lines never carry it
    assert not (Path(env["SFUMATO_HOME"]) / KEY_FILE).exists()


def _issued() -> IssuedKey:
    return IssuedKey(user_id="u", username="admin", api_key="sfu_" + "k" * 43, api_key_id="k")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_hand_over_shows_a_terminal_the_key_and_a_curl_that_uses_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, public_url="http://example.test")
    terminal = _Terminal()
    assert hand_over(_issued(), settings, terminal) is None
    text = terminal.getvalue()
    assert f"authorization: Bearer {_issued().api_key}" in text and "http://example.test/api/rest/v1" in text
    assert not (tmp_path / KEY_FILE).exists()


def test_hand_over_elsewhere_names_the_file_and_its_curl_reads_it(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, public_url="http://example.test")
    pipe = io.StringIO()
    path = hand_over(_issued(), settings, pipe)
    assert path == tmp_path.resolve() / KEY_FILE
    assert path.read_text() == _issued().api_key + "\n"
    assert _issued().api_key not in pipe.getvalue()
    assert f"$(cat {path})" in pipe.getvalue()


def test_a_stale_key_file_is_replaced_and_the_new_one_is_private(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_text("sfu_old\n")
    path.chmod(0o644)
    previous = os.umask(0)
    try:
        write_private(path, "sfu_new\n")
    finally:
        os.umask(previous)
    assert path.read_text() == "sfu_new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary left behind


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    missing = tmp_path / "absent" / KEY_FILE
    with pytest.raises(FileNotFoundError):
        write_private(missing, "sfu_new\n")
    path = tmp_path / KEY_FILE
    with pytest.raises(TypeError):
        write_private(path, 42)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
