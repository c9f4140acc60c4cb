"""What the benchmarks share: a throw-away sfumato (served, or in this process), its
processes and database, percentiles. The load they send is :mod:`sfumato.bench.load_generator`'s."""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from sfumato.service.context import Context
    from sfumato.service.keys import Principal

API = "/api/rest/v1"

DatabaseUrl = Annotated[
    str | None,
    typer.Option(help="Default: a temporary SQLite file. A PostgreSQL URL runs in a fresh schema."),
]


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))  # the smallest value with q% of them at or below it
    return ordered[max(0, min(len(ordered), rank) - 1)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    """A migrated database for one run: a temporary SQLite file, or a fresh PostgreSQL schema."""
    from sfumato.store.migrate import upgrade

    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="sfumato-bench-db-") as tmp:
            sqlite = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(sqlite)
            yield sqlite
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    scoped = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    try:
        upgrade(scoped)
        yield scoped
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@dataclass
class Server:
    """A ``sfumato serve`` subprocess on loopback, and the way to reach it."""

    base: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system), from /proc."""
        return process_cpu_seconds(self.process.pid)

    @property
    def home(self) -> Path:
        return Path(self.env["SFUMATO_HOME"])

    @property
    def database_url(self) -> str:
        return self.env["SFUMATO_DATABASE_URL"]

    @contextlib.contextmanager
    def context(self) -> Iterator[Context]:
        """sfumato's context in this process, on the server's database and blobs."""
        from sfumato.config import Settings
        from sfumato.runtime import build_context

        ctx = build_context(Settings(**_settings_from_env(self.env)))
        try:
            yield ctx
        finally:
            ctx.db.dispose()

    def keys(self, count: int, credits: int = 10**9, webhook_url: str | None = None) -> list[str]:
        """``count`` API keys of distinct accounts, issued in-process (with ``webhook_url``, each
        key's jobs end with a webhook there)."""
        from sfumato.service.keys import issue_key

        with self.context() as ctx:
            return [
                issue_key(
                    ctx,
                    username=f"bench-{uuid.uuid4().hex[:8]}",
                    credits_amount=credits,
                    webhook_url=webhook_url,
                ).api_key
                for _ in range(count)
            ]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; 0 where unavailable).

    CPU per request does not depend on what else the machine runs, so it stays comparable
    on a busy machine where requests per second do not.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _settings_from_env(env: dict[str, str]) -> dict[str, Any]:
    return {
        name.removeprefix("SFUMATO_").lower(): value
        for name, value in env.items()
        if name.startswith("SFUMATO_") and name not in ("SFUMATO_PORT", "SFUMATO_HOST")
    }


@contextlib.contextmanager
def serve(
    home: Path,
    database_url: str,
    *,
    worker: bool,
    settings: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    **more_settings: str,
) -> Iterator[Server]:
    """Start ``sfumato serve`` (with its in-process worker or without) and wait until it is ready.

    ``settings`` and ``more_settings`` become ``SFUMATO_*`` variables; ``env`` adds others
    (``OMP_NUM_THREADS``).
    """
    settings = {**(settings or {}), **more_settings}
    port = free_port()
    env = {
        **os.environ,
        **(env or {}),
        "SFUMATO_HOME": str(home),
        "SFUMATO_DATABASE_URL": database_url,
        "SFUMATO_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SFUMATO_LOG_LEVEL": "WARNING",
        **{f"SFUMATO_{name.upper()}": value for name, value in settings.items()},
    }
    log = home / f"serve-{port}.log"
    home.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "sfumato.cli", "serve", "--port", str(port)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command + ([] if worker else ["--no-worker"]), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, base, log)
        yield Server(base=base, process=process, env=env, log=log)
    finally:
        stop(process)


# A served benchmark's server measures the work, not the limiter: no rate limits, and no
# webhook deliveries unless the benchmark turns them on.
SERVED = {"rate_limit_per_key": "", "rate_limit_per_account": "", "webhook_delivery": "false"}


@contextlib.contextmanager
def throwaway_server(
    database_url: str | None,
    *,
    worker: bool,
    settings: Mapping[str, str],
    threads: int | None = None,
    catalog: str | None = None,
) -> Iterator[Server]:
    """:func:`serve` in a temporary home over a fresh :func:`database`, with :data:`SERVED`
    under ``settings``; ``threads`` is the server's ``OMP_NUM_THREADS``, ``catalog`` the text
    of its user catalog (``catalog.toml`` in the home)."""
    with tempfile.TemporaryDirectory(prefix="sfumato-bench-") as tmp, database(database_url) as url:
        home = Path(tmp)
        if catalog is not None:
            home.joinpath("catalog.toml").write_text(catalog, encoding="utf-8")
        env = {"OMP_NUM_THREADS": str(threads)} if threads is not None else None
        with serve(home, url, worker=worker, settings={**SERVED, **settings}, env=env) as server:
            yield server


@contextlib.contextmanager
def in_process(database_url: str | None, **settings: Any) -> Iterator[Context]:
    """sfumato's context in this process, in a temporary home over a fresh :func:`database`:
    on the CPU, webhook delivery off, and ``settings``."""
    from sfumato.config import Settings
    from sfumato.runtime import build_context

    with tempfile.TemporaryDirectory(prefix="sfumato-bench-") as home, database(database_url) as url:
        ctx = build_context(Settings(home=Path(home), database_url=url, device="cpu", webhook_delivery=False,
                                     **settings))  # fmt: skip
        try:
            yield ctx
        finally:
            ctx.db.dispose()


def account(ctx: Context, username: str) -> Principal:
    """A new account with credits no benchmark runs out of, as its requests' principal."""
    from sfumato.service.keys import authenticate, issue_key

    return authenticate(ctx, "Bearer " + issue_key(ctx, username=username, credits_amount=10**9).api_key)


def wait_ready(process: subprocess.Popen[bytes], base: str, log: Path) -> None:
    """Wait until the server at ``base`` answers ``/readyz`` with 200 (at most two minutes)."""
    import httpx

    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args!r} did not become ready")
        time.sleep(0.1)


@contextlib.contextmanager
def worker_process(server: Server, **settings: str) -> Iterator[subprocess.Popen[bytes]]:
    """A ``sfumato worker`` beside ``server``, with its settings plus ``settings``."""
    env = {**server.env, **{f"SFUMATO_{name.upper()}": value for name, value in settings.items()}}
    log = server.log.with_name(f"worker-{server.port}.log")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "sfumato.cli", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if the process has not exited 30 s later."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
