"""The documentation site builds with warnings as errors (a broken link, a missing page or
snippet fails), and its generated reference pages cover what they describe."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sfumato.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "docs" / "_hooks" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mkdocs_build_strict_succeeds(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI"):
            pytest.fail("mkdocs is not installed (the docs extra); CI may not skip the site build")
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for page in ("index.html", "reference/configuration/index.html", "reference/http/index.html",
                 "reference/cli/index.html", "operations/index.html"):  # fmt: skip
        assert (site / page).is_file(), page
    # an executed example's output is on its page
    assert "image_generation.complete" in (site / "index.html").read_text()
    shutil.rmtree(site)


def test_configuration_reference_lists_every_setting_with_its_description() -> None:
    page = _reference().configuration()
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} has no description: the reference would be blank"
        row = next(line for line in page.splitlines() if line.startswith(f"| `SFUMATO_{name.upper()}` |"))
        assert field.description.split(";")[0].replace("|", "\\|") in row


def test_cli_reference_lists_every_command() -> None:
    import typer.main

    from sfumato.cli import app

    page = _reference().cli()
    root = typer.main.get_command(app)
    for name in root.list_commands(None):  # type: ignore[attr-defined]
        assert f"## `sfumato {name}" in page, name
    assert "`--webhook-url`" in page and "`--credits`" in page


def test_http_reference_lists_every_operation() -> None:
    reference = _reference()
    document = reference.openapi_document()
    page = reference.http(document)
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"### `{method.upper()} {path}`" in page
