"""The scaled shape on loopback: 2 API nodes + 2 workers + PostgreSQL + an S3 bucket (moto).

Jobs submitted across both nodes all complete and are readable from either node; workers
killed at random moments lose nothing and charge nothing twice; SIGTERM finishes or hands
back what a worker is running.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import S3_ENV
from tests.e2e.conftest import Processes

pytestmark = [pytest.mark.slow, pytest.mark.databases("postgresql")]  # the scaled shape

API = "/api/rest/v1"


@dataclass
class Fleet:
    processes: Processes
    database_url: str
    bucket: str
    s3_endpoint: str

    def worker(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        return self.processes.spawn(name, "worker", SFUMATO_WORKER_ID=name, **env)

    def sql(self, query: str, **params: Any) -> list[Any]:
        engine = create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(query), params).all())
        finally:
            engine.dispose()

    def key(self, user: str, credits: int | None = None) -> str:
        """A new account's API key, issued in-process (a CLI call per key costs seconds)."""
        from sfumato.config import Settings
        from sfumato.runtime import build_context
        from sfumato.service.keys import issue_key

        ctx = build_context(Settings(database_url=self.database_url, concurrency_slots=8,
                                     home=self.processes.logs.parent / "home"))  # fmt: skip
        try:
            return issue_key(ctx, username=user, credits_amount=credits).api_key
        finally:
            ctx.db.dispose()

    def submit(self, key: str, **fields: Any) -> str:
        """Queue a generation in-process, as an API node would (without starting one)."""
        from sfumato.config import Settings
        from sfumato.runtime import build_context
        from sfumato.service import generations
        from sfumato.service.keys import authenticate

        ctx = build_context(Settings(database_url=self.database_url, home=self.processes.logs.parent / "home",
                                     models_dir=self.processes.env["SFUMATO_MODELS_DIR"]))  # fmt: skip
        try:
            request = {"model_id": "tiny-sd15", "prompt": "p", **fields}
            principal = authenticate(ctx, f"Bearer {key}")
            created = generations.create_generation(ctx, principal, generations.GenerationRequest(**request))
            return created.generation_id
        finally:
            ctx.db.dispose()

    def bucket_keys(self) -> set[str]:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def fleet(
    database_url: str,
    processes: Processes,
    s3_endpoint: str,
    models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Fleet]:
    """Shared settings for every process of the fleet: PostgreSQL, one bucket, fast leases."""
    import boto3

    from sfumato.engine import Catalog
    from sfumato.engine.tiny import build_tiny

    catalog = Catalog.load()  # build the tiny model once, before workers race to
    tiny = catalog.resolve("tiny-sd15")
    assert tiny is not None
    build_tiny(tiny.tiny_family, catalog.weights_dir(tiny, models_dir))

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    bucket = f"sfumato-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    processes.env.update(
        S3_ENV,
        SFUMATO_BLOB_BACKEND="s3",
        SFUMATO_S3_BUCKET=bucket,
        SFUMATO_S3_ENDPOINT_URL=s3_endpoint,
        SFUMATO_S3_REGION="us-east-1",
        SFUMATO_CONCURRENCY_SLOTS="8",
        SFUMATO_BATCH_SIZE="8",
        SFUMATO_POLL_SECONDS="2",  # wake-ups come from NOTIFY; polling is only the fallback
        SFUMATO_RATE_LIMIT_PER_KEY="",
        SFUMATO_RATE_LIMIT_PER_ACCOUNT="",
        SFUMATO_WEBHOOK_DELIVERY="false",
    )
    yield Fleet(processes, database_url, bucket, s3_endpoint)


def _submit(base: str, key: str, client: httpx.Client | None = None, **body: Any) -> str:
    body = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1,
            "num_inference_steps": 10, **body}  # fmt: skip
    post = client.post if client is not None else httpx.post
    response = post(f"{base}{API}/generations", json=body, headers=_auth(key), timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["sdGenerationJob"]["generationId"])


def _auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def _wait_until_settled(fleet: Fleet, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(pending,)] = fleet.sql("SELECT count(*) FROM generations WHERE status = 'PENDING'")
        if pending == 0:
            [(total,)] = fleet.sql("SELECT count(*) FROM generations")
            assert total == count
            return
        time.sleep(0.5)
    raise AssertionError(f"{pending} generations still PENDING after {timeout}s")


def test_200_jobs_from_4_accounts_across_2_api_nodes_all_complete_and_read_from_either(
    fleet: Fleet,
) -> None:
    fleet.worker("worker-1")
    fleet.worker("worker-2")
    nodes = [fleet.processes.serve("--no-worker") for _ in range(2)]
    keys = [fleet.key(f"tenant-{i}") for i in range(4)]

    def tenant(index: int) -> list[tuple[str, str]]:  # (generation id, key), alternating nodes
        with httpx.Client() as client:
            return [(_submit(nodes[n % 2], keys[index], client, prompt=f"tenant {index} image {n}", seed=n),
                     keys[index]) for n in range(50)]  # fmt: skip

    with ThreadPoolExecutor(4) as pool:
        submitted = [job for jobs in pool.map(tenant, range(4)) for job in jobs]
    assert len({generation_id for generation_id, _ in submitted}) == 200
    _wait_until_settled(fleet, 200, timeout=120)

    def read_everywhere(jobs: list[tuple[str, str]]) -> int:
        read = 0
        with httpx.Client(timeout=30) as client:
            for generation_id, key in jobs:
                for node in nodes:
                    response = client.get(f"{node}{API}/generations/{generation_id}", headers=_auth(key))
                    generation = response.json()["generations_by_pk"]
                    assert generation["status"] == "COMPLETE", generation
                    [image] = generation["generated_images"]
                    download = client.get(image["url"])  # presigned: no credentials
                    assert download.status_code == 200 and download.content[:8] == b"\x89PNG\r\n\x1a\n"
                    read += 1
        return read

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(read_everywhere, [submitted[i::4] for i in range(4)])) == 400

    by_worker = Counter(row[0]["worker"] for row in fleet.sql("SELECT lineage FROM generations"))
    assert set(by_worker) == {"worker-1", "worker-2"}, by_worker  # both took their share
    debits = fleet.sql("SELECT kind, count(*) FROM credit_ledger WHERE subject_id IS NOT NULL "
                       "GROUP BY kind")  # fmt: skip
    assert dict(debits) == {"debit": 200}


def _busy_worker(fleet: Fleet, live: set[str], rng: random.Random) -> str:
    """A live worker that is running jobs right now."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        busy = {row[0] for row in fleet.sql("SELECT lease_owner FROM jobs WHERE state = 'running'")} & live
        if busy:
            return rng.choice(sorted(busy))
        time.sleep(0.02)
    raise AssertionError("no worker ran anything for 90s")


def test_workers_killed_at_random_lose_nothing_and_charge_nothing_twice(fleet: Fleet) -> None:
    node = fleet.processes.serve("--no-worker")
    lease = {"SFUMATO_LEASE_SECONDS": "2", "SFUMATO_HEARTBEAT_SECONDS": "0.5", "SFUMATO_BATCH_SIZE": "4"}
    key = fleet.key("chaos", credits=100_000)
    balance_before = _balance(node, key)
    with httpx.Client() as client:
        generations = [_submit(node, key, client, prompt=f"chaos {n}", seed=n, num_images=1 + n % 2,
                               width=96, height=96) for n in range(60)]  # fmt: skip

    rng = random.Random(6)
    live = {name: fleet.worker(name, **lease) for name in ("chaos-a", "chaos-b")}
    for round_ in range(3):  # SIGKILL a busy worker at a random moment of its batch; start another
        victim = _busy_worker(fleet, set(live), rng)
        time.sleep(rng.uniform(0.0, 0.3))
        live.pop(victim).send_signal(signal.SIGKILL)
        live[f"chaos-{round_}"] = fleet.worker(f"chaos-{round_}", **lease)
        time.sleep(rng.uniform(0.2, 1.5))
    _wait_until_settled(fleet, 60, timeout=150)

    statuses = dict(fleet.sql("SELECT id, status FROM generations"))
    assert set(statuses) == set(generations)
    assert set(statuses.values()) <= {"COMPLETE", "FAILED"}
    assert fleet.sql("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") == [(0,)]
    ledger: dict[str, list[tuple[str, int]]] = {g: [] for g in generations}
    for generation_id, kind, amount in fleet.sql(
        "SELECT subject_id, kind, amount FROM credit_ledger WHERE subject_id IS NOT NULL ORDER BY id"
    ):
        ledger[generation_id].append((kind, amount))
    charged = 0
    for generation_id, entries in ledger.items():
        kinds = [kind for kind, _ in entries]
        if statuses[generation_id] == "COMPLETE":
            assert kinds == ["debit"], entries  # charged exactly once, however often it ran
            charged -= entries[0][1]
        else:
            assert kinds == ["debit", "refund"] and sum(a for _, a in entries) == 0, entries
    assert _balance(node, key) == balance_before - charged

    images = fleet.sql(
        "SELECT i.blob_key, i.sha256, g.status FROM generated_images i JOIN generations g "
        "ON g.id = i.generation_id"
    )
    assert all(status == "COMPLETE" for _, _, status in images)
    assert fleet.bucket_keys() == {blob_key for blob_key, _, _ in images}  # no orphan, none missing
    [(retried,)] = fleet.sql("SELECT count(*) FROM jobs WHERE attempts > 1")
    assert retried > 0, "no kill landed on a running job; the test proved nothing"


def _balance(node: str, key: str) -> int:
    me = httpx.get(f"{node}{API}/me", headers=_auth(key), timeout=30).json()
    return int(me["user_details"][0]["apiSubscriptionTokens"])


# A job of a second or two on the tiny model, so signals land while it runs.
SLOW = {"width": 512, "height": 512, "steps": 30, "num_images": 1}


def _wait_running(fleet: Fleet, worker: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if fleet.sql("SELECT id FROM jobs WHERE state = 'running' AND lease_owner = :w", w=worker):
            return
        time.sleep(0.02)
    raise AssertionError(f"{worker} never started the job:\n" + fleet.processes.log(worker))


def test_sigterm_hands_back_past_the_grace_and_finishes_within_it(fleet: Fleet) -> None:
    key = fleet.key("stopping")
    generation_id = fleet.submit(key, prompt="stop and go", seed=2, **SLOW)

    hurried = fleet.worker("hurried", SFUMATO_SHUTDOWN_GRACE_SECONDS="0.2")
    _wait_running(fleet, "hurried")
    heir = fleet.worker("heir", SFUMATO_SHUTDOWN_GRACE_SECONDS="120")  # starts up meanwhile
    hurried.send_signal(signal.SIGTERM)
    assert hurried.wait(timeout=30) == 0
    # Handed back: queued again at once (no lease to sit out), no attempt spent.
    assert fleet.sql("SELECT state, attempts, lease_owner FROM jobs") == [("queued", 0, None)]

    _wait_running(fleet, "heir")
    heir.send_signal(signal.SIGTERM)
    assert heir.wait(timeout=120) == 0
    assert "finishing 1 job(s) in flight" in fleet.processes.log("heir")
    [(status, attempts, lineage)] = fleet.sql(
        "SELECT g.status, j.attempts, g.lineage FROM generations g JOIN jobs j ON j.generation_id = g.id"
    )
    assert (status, attempts, lineage["worker"]) == ("COMPLETE", 1, "heir")
    ledger = fleet.sql("SELECT kind FROM credit_ledger WHERE subject_id = :g", g=generation_id)
    assert ledger == [("debit",)]
    assert fleet.sql("SELECT count(*) FROM workers") == [(0,)]  # both withdrew their advertisements
