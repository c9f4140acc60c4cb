"""`sfumato serve --processes N`: several API processes on one port, no worker among them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Processes

pytestmark = [pytest.mark.slow, pytest.mark.databases("sqlite")]


def _api_processes(pid: int) -> list[int]:
    """The processes ``pid`` spawned to serve (not multiprocessing's resource tracker)."""
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_api_processes_share_the_port_and_record_submissions(processes: Processes) -> None:
    base = processes.serve("--no-worker", "--processes", "2")
    supervisor = processes.started[-1]
    assert len(_api_processes(supervisor.pid)) == 2  # one process per --processes
    key = processes.new_key("erin")["apiKey"]
    headers = {"authorization": f"Bearer {key}"}
    body = {"prompt": "a lighthouse", "modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1}
    with httpx.Client(base_url=f"{base}/api/rest/v1", headers=headers, timeout=30) as client:
        ids = [client.post("/generations", json={**body, "seed": n}).json() for n in range(20)]
        generation_ids = {answer["sdGenerationJob"]["generationId"] for answer in ids}
        assert len(generation_ids) == 20
        for generation_id in generation_ids:  # queued (no worker runs) and readable from any process
            answer = client.get(f"/generations/{generation_id}").json()
            assert answer["generations_by_pk"]["status"] == "PENDING"


def test_more_than_one_process_with_a_worker_is_refused(processes: Processes) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sfumato.cli", "serve", "--processes", "2"],
        env=processes.env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "--no-worker" in result.stderr.decode()
