"""Real sfumato processes on loopback: `sfumato serve`, `sfumato worker`, `sfumato keys`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Processes:
    env: dict[str, str]
    logs: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "sfumato.cli", *args],
            env=self.env,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode()

    def spawn(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "sfumato.cli", *args],
            env={**self.env, **extra_env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.started.append(process)
        return process

    def serve(self, *extra: str) -> str:
        port = free_port()
        process = self.spawn(f"serve-{port}", "serve", "--port", str(port), *extra,
                             SFUMATO_PUBLIC_URL=f"http://127.0.0.1:{port}")  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(self.log(f"serve-{port}"))
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not become ready:\n" + self.log(f"serve-{port}"))

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def new_key(self, user: str, credits: int | None = None) -> dict[str, str]:
        args = ["keys", "create", "--user", user, "--json"]
        if credits is not None:
            args += ["--credits", str(credits)]
        return dict(json.loads(self.cli(*args)))


@pytest.fixture
def processes(settings_env: dict[str, str], tmp_path: Path) -> Iterator[Processes]:
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {**os.environ, **settings_env, "PYTHONUNBUFFERED": "1"}
    procs = Processes(env=env, logs=logs)
    try:
        yield procs
    finally:
        for process in procs.started:
            if process.poll() is None:
                process.terminate()
        for process in procs.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
