"""Shared fixtures: a database per test on SQLite and on PostgreSQL, settings, tiny models."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("SFUMATO_TEST_DATABASE_URL", DEFAULT_POSTGRES)

# Tests compare pixels; fix the thread count so float reductions are repeatable.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _postgres_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return (
            f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(exc).__name__}); "
            "set SFUMATO_TEST_DATABASE_URL to run the PostgreSQL half of the suite"
        )
    return None


_PG_SKIP = _postgres_reason()


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models directory for the whole run: tiny models are built once, on first use."""
    return tmp_path_factory.mktemp("models")


def _schema_url(schema: str) -> str:
    joiner = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file, or a schema of its own in PostgreSQL."""
    from sfumato.store.migrate import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sfumato.db'}"
        upgrade(url)
        yield url
        return
    if _PG_SKIP:
        pytest.skip(_PG_SKIP)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = _schema_url(schema)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


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
