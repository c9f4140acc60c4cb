"""A worker killed mid-job: the job completes elsewhere after its lease expires, charged once."""

from __future__ import annotations

import signal
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow


def _job_row(database_url: str, generation_id: str) -> dict[str, object] | None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = (
                conn.execute(
                    text("SELECT state, lease_owner, attempts FROM jobs WHERE generation_id = :g"),
                    {"g": generation_id},
                )
                .mappings()
                .first()
            )
            return dict(row) if row else None
    finally:
        engine.dispose()


def _ledger(database_url: str, generation_id: str) -> list[tuple[str, int]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT kind, amount FROM credit_ledger WHERE subject_id = :g ORDER BY id"),
                {"g": generation_id},
            ).all()
            return [(str(kind), int(amount)) for kind, amount in rows]
    finally:
        engine.dispose()


def test_killed_worker_job_completes_after_lease_expiry_without_double_charge(
    processes: Processes, settings_env: dict[str, str]
) -> None:
    database_url = settings_env["SFUMATO_DATABASE_URL"]
    base = processes.serve("--no-worker")
    issued = processes.new_key("crash-test")
    headers = {"authorization": f"Bearer {issued['apiKey']}"}
    api = f"{base}/api/rest/v1"
    balance_before = httpx.get(f"{api}/me", headers=headers).json()["user_details"][0][
        "apiSubscriptionTokens"
    ]

    lease = {"SFUMATO_LEASE_SECONDS": "3", "SFUMATO_HEARTBEAT_SECONDS": "0.5"}
    doomed = processes.spawn("worker-a", "worker", SFUMATO_WORKER_ID="worker-a", **lease)
    # Big enough that the tiny model needs seconds: the kill lands mid-run.
    body = {"modelId": "tiny-sd15", "prompt": "slow", "width": 512, "height": 512,
            "num_images": 4, "num_inference_steps": 60, "seed": 3}  # fmt: skip
    job = httpx.post(f"{api}/generations", json=body, headers=headers).json()["sdGenerationJob"]
    generation_id, cost = job["generationId"], job["apiCreditCost"]

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        row = _job_row(database_url, generation_id)
        if row and row["state"] == "running" and row["lease_owner"] == "worker-a":
            break
        time.sleep(0.05)
    else:
        raise AssertionError("worker-a never started the job:\n" + processes.log("worker-a"))
    time.sleep(0.3)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    assert _job_row(database_url, generation_id)["state"] == "running"  # type: ignore[index]

    processes.spawn("worker-b", "worker", SFUMATO_WORKER_ID="worker-b", **lease)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        generation = httpx.get(f"{api}/generations/{generation_id}", headers=headers).json()[
            "generations_by_pk"
        ]
        if generation["status"] != "PENDING":
            break
        time.sleep(0.2)
    assert generation["status"] == "COMPLETE", processes.log("worker-b")
    assert len(generation["generated_images"]) == 4

    row = _job_row(database_url, generation_id)
    assert row == {"state": "succeeded", "lease_owner": None, "attempts": 2}
    assert _ledger(database_url, generation_id) == [("debit", -cost)]
    balance_after = httpx.get(f"{api}/me", headers=headers).json()["user_details"][0]["apiSubscriptionTokens"]
    assert balance_after == balance_before - cost
