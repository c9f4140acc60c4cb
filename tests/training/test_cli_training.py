"""``sfumato train`` and ``sfumato models compare`` against a server running its worker in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sfumato.app import create_app
from sfumato.cli import app
from sfumato.config import Settings
from tests.api.conftest import BASE
from tests.api.uploading import png

runner = CliRunner()


@pytest.fixture
def server(settings_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    env = {
        **settings_env,
        "SFUMATO_TRAINING_BASE_MODELS": json.dumps({"v1_5": "tiny-sd15"}),
        "SFUMATO_TRAINING_MAX_STEPS": "6",
        "SFUMATO_TRAINING_SUITE": json.dumps(["{instance}", "{instance} at dawn"]),
        "SFUMATO_PUBLIC_URL": "http://testserver",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(Settings())) as client:
        yield client


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.output


def _dataset(client: TestClient) -> str:
    key = json.loads(_ok("keys", "create", "--user", "cli", "--json"))["apiKey"]
    headers = {"authorization": f"Bearer {key}"}
    dataset_id = client.post(f"{BASE}/datasets", json={"name": "d"}, headers=headers).json()[
        "insert_datasets_one"
    ]["id"]
    for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250)):
        form = client.post(
            f"{BASE}/datasets/{dataset_id}/upload", json={"extension": "png"}, headers=headers
        ).json()["uploadDatasetImage"]
        sent = client.post(
            form["url"], data=json.loads(form["fields"]), files={"file": ("a.png", png(color=colour))}
        )
        assert sent.status_code == 204, sent.text
    return str(dataset_id)


def test_train_then_compare_two_versions(server: TestClient) -> None:
    dataset_id = _dataset(server)
    first = _ok("train", dataset_id, "--name", "v1", "--prompt", "sks", "--resolution", "64")
    assert "6/6" in first and "loss" in first and "trained: 6 steps" in first and "seed 1234" in first
    second = _ok(
        "train", dataset_id, "--name", "v2", "--prompt", "sks", "--resolution", "64", "--strength", "HIGH"
    )
    ids = [line.split()[1] for line in (first + second).splitlines() if line.startswith("model ")]
    assert len(ids) == 2
    output = _ok("models", "compare", *ids)
    assert "same dataset version: yes" in output and "same base weights: yes" in output
    assert "strength: A 'MEDIUM'  B 'HIGH'" in output
    assert "{instance} at dawn" in output and output.count(" no ") >= 2  # the suites' pictures differ
    missing = runner.invoke(app, ["models", "compare", ids[0], "no-such-model"])
    assert missing.exit_code == 1 and "no-such-model" in missing.output
