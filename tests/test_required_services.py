"""Under CI, a server the suite needs that does not answer fails the run instead of
skipping half of it quietly; an explicit opt-out brings the skips back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLOSED_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:9/test"  # the discard port: nothing listens
CLOSED_REDIS = "redis://127.0.0.1:9/0"

TINY_SUITE = """
def test_on_each_database(database_url):
    assert database_url

def test_with_redis(redis_url):
    assert redis_url
"""


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run pytest on a two-test file with this suite's fixtures (tests/conftest.py as a plugin)."""
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # none of the project's options (workers)
    (tmp_path / "test_tiny.py").write_text(TINY_SUITE)
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("SFUMATO_TEST_", "PYTEST_"))}
    variables.pop("CI", None)
    variables |= {"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src")]),
                  "SFUMATO_TEST_DATABASE_URL": CLOSED_POSTGRES, "SFUMATO_TEST_REDIS_URL": CLOSED_REDIS,
                  **env}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-rs", "-q", "test_tiny.py"],
        cwd=tmp_path, env=variables, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_under_ci_an_unreachable_postgres_and_redis_fail_the_run_at_start(tmp_path: Path) -> None:
    run = _pytest(tmp_path, CI="true")
    output = run.stdout + run.stderr
    assert run.returncode not in (0, 5), output  # 5: nothing collected
    assert f"PostgreSQL at {CLOSED_POSTGRES} is unreachable" in output
    assert "SFUMATO_TEST_ALLOW_NO_POSTGRES=1" in output
    assert f"Redis at {CLOSED_REDIS} is unreachable" in output
    assert "SFUMATO_TEST_ALLOW_NO_REDIS=1" in output
    assert "passed" not in output  # it stopped before running anything


def test_under_ci_one_missing_server_is_enough_to_fail(tmp_path: Path) -> None:
    run = _pytest(tmp_path, CI="true", SFUMATO_TEST_ALLOW_NO_REDIS="1")
    output = run.stdout + run.stderr
    assert run.returncode not in (0, 5), output
    assert "PostgreSQL at" in output and "Redis at" not in output


@pytest.mark.parametrize("ci", ["true", ""])
def test_with_the_opt_outs_or_outside_ci_their_tests_are_skipped_saying_why(tmp_path: Path, ci: str) -> None:
    opt_outs = {"SFUMATO_TEST_ALLOW_NO_POSTGRES": "1", "SFUMATO_TEST_ALLOW_NO_REDIS": "1"} if ci else {}
    run = _pytest(tmp_path, CI=ci, **opt_outs)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "1 passed, 2 skipped" in output  # SQLite runs; PostgreSQL and Redis skip
    assert f"PostgreSQL at {CLOSED_POSTGRES} is unreachable" in output
    assert f"Redis at {CLOSED_REDIS} is unreachable" in output
