"""``sfumato generations show`` and ``replay`` against a server running its worker in-process."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sfumato.app import create_app
from sfumato.cli import app
from sfumato.config import Settings
from tests.api.conftest import BASE

runner = CliRunner()


@pytest.fixture
def server(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in settings_env.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(Settings())) as client:
        yield client


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def _generation(client: TestClient) -> str:
    key = json.loads(_ok("keys", "create", "--user", "cli", "--json"))["apiKey"]
    headers = {"authorization": f"Bearer {key}"}
    body = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 2, "num_inference_steps": 10,
            "prompt": "a lighthouse", "seed": 99}  # fmt: skip
    generation_id = client.post(f"{BASE}/generations", json=body, headers=headers).json()["sdGenerationJob"][
        "generationId"
    ]
    for _ in range(1200):
        got = client.get(f"{BASE}/generations/{generation_id}", headers=headers).json()["generations_by_pk"]
        if got["status"] != "PENDING":
            assert got["status"] == "COMPLETE", got
            return str(generation_id)
        time.sleep(0.05)
    raise AssertionError("the generation did not finish")


def test_show_prints_parameters_images_and_lineage(server: TestClient) -> None:
    generation_id = _generation(server)
    output = _ok("generations", "show", generation_id)
    assert generation_id in output and "COMPLETE" in output and "a lighthouse" in output
    for entry in ("weights_hash", "torch_version", "diffusers_version", "device", "dtype", "batch_size",
                  "batch_position", "scheduler", "attempts", "worker"):  # fmt: skip
        assert entry in output, entry
    assert "tiny-sd15" in output and "http://" in output  # the images' urls
    missing = runner.invoke(app, ["generations", "show", "no-such-id"])
    assert missing.exit_code == 1 and "No generation" in missing.output


def test_replay_waits_and_reports_identical_pixels(server: TestClient) -> None:
    generation_id = _generation(server)
    output = _ok("generations", "replay", generation_id, "--timeout", "120")
    assert "identical" in output and "no differences" in output
    assert f"of {generation_id}" in output
    replay_id = output.split("replay ", 1)[1].split()[0]
    shown = _ok("generations", "show", replay_id)
    assert "replay_of" in shown and generation_id in shown
