"""Prometheus /metrics: request latency, queue depth per lane, jobs, webhook attempts, credits."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings
from tests.webhooks.receiver import Receiver

SMALL = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10}


def _samples(api: Api) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_queue_depth_and_credits_come_from_the_database(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    settings = make_settings(database_url, tmp_path, models_dir)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
        issued = issue_key(ctx, username="metered", credits_amount=1000)
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        costs = [api.post("/generations", json={**SMALL, "prompt": f"fox {i}"}).json()["sdGenerationJob"]
                 ["apiCreditCost"] for i in range(3)]  # fmt: skip
        samples = _samples(api)
    assert _value(samples, "sfumato_queue_depth", lane="1") == 3
    assert _value(samples, "sfumato_credits_total", kind="debit") == sum(costs)
    assert _value(samples, "sfumato_credits_total", kind="grant") == 1000
    assert _value(samples, "sfumato_http_request_duration_seconds_count", method="POST", route="/generations",
                  status="200") >= 3  # fmt: skip


def test_jobs_and_webhooks_are_counted(database_url: str, tmp_path: Path, models_dir: Path) -> None:
    settings = make_settings(database_url, tmp_path, models_dir, webhook_allow_hosts="127.0.0.1",
                             webhook_poll_seconds=0.05)  # fmt: skip
    ctx = build_context(settings)
    with Receiver() as receiver, TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="observed", webhook_url=receiver.url)
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        before = _samples(api)
        api.wait(api.generate())
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
        # The receiver answers before the sender records the delivery: wait for the record.
        after = _samples(api)
        deadline = time.monotonic() + 20
        while not _value(after, "sfumato_webhook_deliveries", state="delivered"):
            assert time.monotonic() < deadline, "the acknowledged delivery is never recorded"
            after = _samples(api)
    job = {"task": "text_to_image", "model": "tiny-sd15"}
    assert _value(after, "sfumato_job_outcomes_total", **job, outcome="succeeded") == (
        _value(before, "sfumato_job_outcomes_total", **job, outcome="succeeded") + 1
    )
    assert _value(after, "sfumato_job_duration_seconds_count", **job) == (
        _value(before, "sfumato_job_duration_seconds_count", **job) + 1
    )
    assert _value(after, "sfumato_job_duration_seconds_sum", **job) > _value(
        before, "sfumato_job_duration_seconds_sum", **job
    )
    assert _value(after, "sfumato_webhook_attempts_total", outcome="delivered") >= (
        _value(before, "sfumato_webhook_attempts_total", outcome="delivered") + 1
    )
    assert _value(after, "sfumato_webhook_deliveries", state="delivered") == 1
    assert _value(after, "sfumato_jobs_running", task="text_to_image") == 0
