"""Shared fixtures: a database per test on SQLite and on PostgreSQL, settings, tiny models."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.pool import NullPool

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("SFUMATO_TEST_DATABASE_URL", DEFAULT_POSTGRES)
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
REDIS_URL = os.environ.get("SFUMATO_TEST_REDIS_URL", DEFAULT_REDIS)

# Tests compare pixels; fix the thread count so float reductions are repeatable.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@dataclass(frozen=True)
class Service:
    """A server some tests need. Where it does not answer, its tests are skipped, saying why;
    but under CI (``CI`` set) the run fails at start instead, unless ``opt_out`` is set: a CI
    run that quietly skipped half the suite would pass without testing it."""

    name: str
    url: str
    url_variable: str
    opt_out: str
    probe: Callable[[str], object]

    def unreachable(self) -> str | None:
        try:
            self.probe(self.url)
        except Exception as exc:
            return f"{self.name} at {self.url} is unreachable ({type(exc).__name__})"
        return None


def _probe_postgres(url: str) -> None:
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def _probe_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()


POSTGRES = Service("PostgreSQL", POSTGRES_URL, "SFUMATO_TEST_DATABASE_URL", "SFUMATO_TEST_ALLOW_NO_POSTGRES",
                   _probe_postgres)  # fmt: skip
REDIS = Service("Redis", REDIS_URL, "SFUMATO_TEST_REDIS_URL", "SFUMATO_TEST_ALLOW_NO_REDIS", _probe_redis)
SERVICES = (POSTGRES, REDIS)
_UNREACHABLE = {service.name: service.unreachable() for service in SERVICES}


def _skip_reason(service: Service) -> str | None:
    """Why ``service``'s tests are skipped in this run; None when the service answered."""
    reason = _UNREACHABLE[service.name]
    if reason is None:
        return None
    if os.environ.get(service.opt_out):
        return f"{reason}; {service.opt_out} is set, so its tests are skipped"
    return f"{reason}; set {service.url_variable} to one that answers to run its tests"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "databases(*names): run this test only against the named databases (sqlite, postgresql)",
    )
    if not os.environ.get("CI"):
        return
    missing = [s for s in SERVICES if _UNREACHABLE[s.name] and not os.environ.get(s.opt_out)]
    if missing:
        raise pytest.UsageError(
            "\n".join(
                f"{_UNREACHABLE[s.name]}. CI is set, so its tests may not be skipped: start {s.name} "
                f"(or point {s.url_variable} at one), or set {s.opt_out}=1 to run without it."
                for s in missing
            )
        )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (not skip) the database variants a ``databases`` marker leaves out, and keep
    each ``xdist_group`` on one worker."""
    _group(config, items)
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("databases")
        callspec = getattr(item, "callspec", None)
        database = callspec.params.get("database_url") if callspec else None
        (dropped if marker and database and database not in marker.args else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def _group(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep ``xdist_group`` tests on one worker under pytest 9 (``--dist loadgroup``): the
    modules that share one live server (studio, docs examples, batch) need it.

    pytest-xdist marks a grouped test by renaming it ``<nodeid>@<group>``, but through the
    attribute pytest 8 kept the id in; pytest 9 keeps it in ``_id`` (a ``NodeId``), so the
    rename is lost and the group's tests are spread over the workers.
    """
    if not config.getoption("loadgroup", default=False):
        return
    try:
        from _pytest.nodeid import NodeId  # pytest 9
    except ImportError:
        return  # pytest 8: xdist's own rename works
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is None or "@" in item.nodeid:
            continue
        group = marker.args[0] if marker.args else marker.kwargs.get("name", "default")
        item._id = NodeId.parse(f"{item.nodeid}@{group}")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models directory for the whole run: tiny models are built once, on first use."""
    return tmp_path_factory.mktemp("models")


def _schema_url(schema: str) -> str:
    joiner = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{joiner}options=-csearch_path%3D{schema}"


# Migrating from nothing costs about a second a database; a test needs a fresh one, so each run
# of this process migrates once and every test gets a copy: SQLite's file through its backup
# API, PostgreSQL's schema by replaying the statements the migration sent.


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sfumato.store.migrate import upgrade

    path = tmp_path_factory.mktemp("migrated") / "sfumato.db"
    upgrade(f"sqlite:///{path}")
    return path


def _copy_sqlite(template: Path, target: Path) -> None:
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)


@pytest.fixture(scope="session")
def new_sqlite_database(_migrated_sqlite: Path) -> Callable[[Path], str]:
    """Makes a migrated SQLite database in a folder; its URL."""

    def make(folder: Path) -> str:
        path = folder / "sfumato.db"
        _copy_sqlite(_migrated_sqlite, path)
        return f"sqlite:///{path}"

    return make


@dataclass(frozen=True)
class _Statement:
    sql: str
    parameters: Any
    many: bool


@pytest.fixture(scope="session")
def _postgres_migration() -> list[_Statement]:
    """What migrating an empty schema sends, recorded once (names unqualified: the schema is the
    connection's search path, so the same statements build the same tables in another one)."""
    from sfumato.store.migrate import upgrade

    skip = _skip_reason(POSTGRES)
    if skip:
        pytest.skip(skip)
    schema = f"m_{uuid.uuid4().hex[:12]}"
    url = _schema_url(schema)
    statements: list[_Statement] = []

    def record(conn: Any, cursor: Any, sql: str, parameters: Any, context: Any, many: bool) -> None:
        if conn.engine.url.render_as_string(hide_password=False) == url:
            statements.append(_Statement(sql, parameters, many))

    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    event.listen(Engine, "before_cursor_execute", record)
    try:
        upgrade(url)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    assert any(s.sql.lstrip().upper().startswith("CREATE TABLE") for s in statements), "nothing recorded"
    return statements


def _replay(url: str, statements: list[_Statement]) -> None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for statement in statements:
                if statement.many:
                    cursor.executemany(statement.sql, statement.parameters)
                else:
                    cursor.execute(statement.sql, statement.parameters)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a schema of its own in PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "sfumato.db"
        _copy_sqlite(request.getfixturevalue("_migrated_sqlite"), path)
        yield f"sqlite:///{path}"
        return
    skip = _skip_reason(POSTGRES)
    if skip:
        pytest.skip(skip)
    migration = request.getfixturevalue("_postgres_migration")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _schema_url(schema)
    try:
        _replay(url, migration)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """The Redis server of this run (``SFUMATO_TEST_REDIS_URL``); tests skip without one."""
    skip = _skip_reason(REDIS)
    if skip:
        pytest.skip(skip)
    return REDIS_URL


@pytest.fixture
def settings_env(database_url: str, tmp_path: Path, models_dir: Path) -> dict[str, str]:
    """Environment variables that point a sfumato process at this test's state."""
    return {
        "SFUMATO_HOME": str(tmp_path / "home"),
        "SFUMATO_DATABASE_URL": database_url,
        "SFUMATO_MODELS_DIR": str(models_dir),
        "SFUMATO_DEVICE": "cpu",
        "SFUMATO_POLL_SECONDS": "0.1",
    }


# --- blob backends: the local directory, and S3 through a moto server on loopback ----------

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port, shared by the whole run."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = Path(sys.executable).parent / "moto_server"
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(params=["local", "s3"])
def blob_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``SFUMATO_*`` variables selecting one blob backend; for s3, a fresh bucket of its own.

    The AWS variables go into this process's environment too (boto3 reads them there) and
    into the returned mapping, for subprocesses.
    """
    if request.param == "local":
        return {"SFUMATO_BLOB_BACKEND": "local"}
    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"sfumato-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return {
        "SFUMATO_BLOB_BACKEND": "s3",
        "SFUMATO_S3_BUCKET": bucket,
        "SFUMATO_S3_ENDPOINT_URL": endpoint,
        "SFUMATO_S3_REGION": "us-east-1",
        **S3_ENV,
    }
