"""The operator CLI, through typer's runner, against a migrated database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sfumato.cli import app

runner = CliRunner()


@pytest.fixture
def env(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    return settings_env


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_create_list_revoke(env: dict[str, str]) -> None:
    issued = json.loads(_ok("keys", "create", "--user", "ops", "--credits", "42", "--json"))
    assert set(issued) == {"userId", "apiKey"} and issued["apiKey"].startswith("sfu_")
    listing = _ok("keys", "list")
    assert "ops" in listing and issued["apiKey"] not in listing  # only the prefix is shown
    assert "42" in _ok("credits", "show", "--user", "ops")
    assert "50" in _ok("credits", "grant", "--user", "ops", "8")
    _ok("keys", "revoke", issued["apiKey"][:12])
    assert "revoked" in _ok("keys", "list")


def test_operator_mistakes_exit_non_zero_with_a_message(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["keys", "revoke", "no-such-key"])
    assert result.exit_code == 1 and "No API key" in result.output
    result = runner.invoke(app, ["credits", "grant", "--user", "nobody", "5"])
    assert result.exit_code == 1 and "No account" in result.output
    result = runner.invoke(app, ["models", "pull", "no-such-model"])
    assert result.exit_code == 1 and "unknown model" in result.output


def test_models_list_shows_readiness(env: dict[str, str]) -> None:
    output = _ok("models", "list")
    assert "tiny-sd15" in output and "sdxl" in output
    lines = {line.split()[1]: line for line in output.splitlines() if line.startswith("│")}
    assert "yes" in lines["tiny-sd15"] and "no" in lines["sdxl"]
    # Today's families, and how a GPU holds them.
    assert (
        "flux-dev" in lines and "no" in lines["flux-dev"] and "bfloat" in lines["flux-dev"]
    )  # however narrow
    assert "yes" in lines["tiny-flux-schnell"] and "yes" in lines["tiny-qwen-image"]
    assert "sd35-medium" in lines and "sdxl-lightning" in lines


def test_migrate_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    _ok("migrate")
    _ok("migrate")


@pytest.mark.databases("sqlite")
def test_a_blueprint_file_with_a_mistake_stops_the_server_saying_where(env: dict[str, str]) -> None:
    folder = Path(env["SFUMATO_HOME"]) / "blueprints"
    folder.mkdir(parents=True)
    (folder / "mine.toml").write_text('id = "9d3c1c44-2f7e-4d6a-9a51-3c1f0e6b7a01"\nname = "Mine"\n')
    result = runner.invoke(app, ["serve", "--port", "1"])
    assert result.exit_code == 1
    assert "mine.toml: needs at least one [[versions]] table" in "".join(result.output.split("\n"))
