"""Under CI a missing browser fails the studio's tests instead of skipping them quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_under_ci_a_missing_chromium_fails_the_studio_tests() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env |= {"CI": "true", "SFUMATO_TEST_CHROMIUM": "/nonexistent/chromium", "PYTHONPATH": str(ROOT / "src"),
            "SFUMATO_TEST_ALLOW_NO_POSTGRES": "1", "SFUMATO_TEST_ALLOW_NO_REDIS": "1"}  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-q", "-p", "no:cacheprovider",
         "tests/browser/test_studio.py::test_account_then_sign_out_ends_the_session"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "/nonexistent/chromium is missing" in output
    assert "CI is set, so the studio's browser tests may not be skipped" in output
    assert "1 failed" in output or "1 error" in output
