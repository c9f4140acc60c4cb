"""A worker killed mid-training: the next worker resumes from the last checkpoint, charged once."""

from __future__ import annotations

import io
import json
import signal
import time

import httpx
import pytest
from PIL import Image

from tests.e2e.conftest import Processes
from tests.e2e.test_worker_crash import _ledger

pytestmark = pytest.mark.slow

STEPS, EVERY = 60, 5


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _model(api: str, headers: dict[str, str], model_id: str) -> dict[str, object]:
    return dict(httpx.get(f"{api}/models/{model_id}", headers=headers).json()["custom_models_by_pk"])


# The scaled shape, where a worker dies apart from its API; the resume itself reads the
# checkpoint from the blob store whatever the database (tests/engine covers it in-process).
@pytest.mark.databases("postgresql")
def test_killed_training_resumes_from_its_checkpoint(
    processes: Processes, settings_env: dict[str, str]
) -> None:
    processes.env.update(
        SFUMATO_TRAINING_BASE_MODELS=json.dumps({"v1_5": "tiny-sd15"}),
        SFUMATO_TRAINING_MAX_STEPS=str(STEPS),
        SFUMATO_TRAINING_CHECKPOINT_STEPS=str(EVERY),
        SFUMATO_TRAINING_SUITE=json.dumps(["{instance}"]),
    )
    base = processes.serve("--no-worker")
    issued = processes.new_key("trainer")
    headers = {"authorization": f"Bearer {issued['apiKey']}"}
    api = f"{base}/api/rest/v1"
    dataset_id = httpx.post(f"{api}/datasets", json={"name": "colours"}, headers=headers).json()[
        "insert_datasets_one"
    ]["id"]
    for colour in ((220, 30, 30), (30, 200, 40), (20, 40, 210), (230, 220, 30)):
        form = httpx.post(
            f"{api}/datasets/{dataset_id}/upload", json={"extension": "png"}, headers=headers
        ).json()["uploadDatasetImage"]
        posted = httpx.post(
            form["url"], data=json.loads(form["fields"]), files={"file": ("a.png", _png(colour))}
        )
        assert posted.status_code == 204, posted.text

    lease = {"SFUMATO_LEASE_SECONDS": "3", "SFUMATO_HEARTBEAT_SECONDS": "0.5"}
    doomed = processes.spawn("worker-a", "worker", SFUMATO_WORKER_ID="worker-a", **lease)
    body = {"name": "colours", "datasetId": dataset_id, "instance_prompt": "sks colours", "resolution": 128}
    job = httpx.post(f"{api}/models", json=body, headers=headers).json()["sdTrainingJob"]
    model_id, cost = job["customModelId"], job["apiCreditCost"]

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        progress = _model(api, headers, model_id).get("progress")
        if isinstance(progress, dict) and progress.get("stage") == "training" and progress["step"] > EVERY:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("worker-a never got past the first checkpoint:\n" + processes.log("worker-a"))
    assert "loss" in progress
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    processes.spawn("worker-b", "worker", SFUMATO_WORKER_ID="worker-b", **lease)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        model = _model(api, headers, model_id)
        if model["status"] != "PENDING":
            break
        time.sleep(0.2)
    assert model["status"] == "COMPLETE", processes.log("worker-b")
    lineage = model["lineage"]
    assert isinstance(lineage, dict)
    resumed = int(lineage["resumed_from"])
    assert EVERY <= resumed < STEPS and resumed % EVERY == 0  # from a checkpoint, not from scratch
    assert len(lineage["losses"]) == STEPS  # every step once: the checkpoint's, then the rest
    assert _ledger(settings_env["SFUMATO_DATABASE_URL"], model_id) == [("debit", -cost)]
