"""Webhooks with real processes: keys from the CLI, delivered by `serve` and `worker`, re-sent by the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

from sfumato.webhooks import signing
from tests.e2e.conftest import Processes
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


# The scaled shape (API node and worker as separate processes) is PostgreSQL's.
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_cli_keys_serve_and_worker_deliver_and_resend(processes: Processes) -> None:
    processes.env.update(
        SFUMATO_WEBHOOK_ALLOW_HOSTS="127.0.0.1/32",
        SFUMATO_WEBHOOK_POLL_SECONDS="0.1",
        SFUMATO_WEBHOOK_BACKOFF_SECONDS="0.2",
    )
    refused = subprocess.run(
        [sys.executable, "-m", "sfumato.cli", "keys", "create", "--user", "x", "--webhook-url",
         "http://10.0.0.1/hook"],
        env=processes.env, capture_output=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1 and b"private" in refused.stderr

    with Receiver() as receiver:
        args = ["--user", "hooky", "--json", "--webhook-url", receiver.url, "--webhook-key", "receiver-token"]
        issued = json.loads(processes.cli("keys", "create", *args))
        base = processes.serve("--no-worker")
        processes.spawn("worker", "worker")
        response = httpx.post(
            f"{base}/api/rest/v1/generations",
            headers={"authorization": f"Bearer {issued['apiKey']}"},
            json={"prompt": "a fox", "modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1},
        )
        generation_id = response.json()["sdGenerationJob"]["generationId"]
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1, timeout=90)
        first = receiver.received[0]
        assert first.headers["authorization"] == "Bearer receiver-token"
        signing.verify(issued["webhookSecret"], first.headers, first.body)
        assert json.loads(first.body)["data"]["object"]["id"] == generation_id

        lines = processes.cli("webhooks", "list", "--user", "hooky", "--json").splitlines()
        rows = [(row["id"], row["state"], row["lastStatus"]) for row in map(json.loads, lines)]
        event_id = first.headers["webhook-id"]
        assert rows == [(event_id, "delivered", 200)]
        processes.cli("webhooks", "resend", event_id)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 2, timeout=30)
        again = receiver.received[1]
        assert again.headers["webhook-id"] == event_id and again.body == first.body
        assert "#" in processes.cli("webhooks", "show", event_id)
