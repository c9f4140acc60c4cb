"""Webhooks through the HTTP API, delivered to a real receiver on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from sfumato.app import create_app
from sfumato.cli import app as cli
from sfumato.errors import InvalidRequest
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.store import webhooks as webhooks_store
from sfumato.store.models import WebhookDelivery
from sfumato.webhooks import signing
from sfumato.webhooks.guard import AllowList
from sfumato.webhooks.sender import WebhookSender
from tests.api.conftest import Api, make_settings
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import Receiver
from tests.webhooks.urls import unsigned


def _hook_key(api: Api, receiver: Receiver, user: str = "hooked", webhook_key: str | None = "cb-secret"):
    issued = issue_key(api.ctx, username=user, webhook_url=receiver.url, webhook_key=webhook_key)
    assert issued.webhook_secret and issued.webhook_secret.startswith("whsec_")
    return issued


def _deliveries(api: Api, key: str) -> list[dict]:
    response = api.get("/webhooks/deliveries", key=key)
    assert response.status_code == 200, response.text
    return list(response.json()["webhook_deliveries"])


def test_completed_generation_is_posted_signed_with_the_bearer_key(hooks: Api) -> None:
    with Receiver() as receiver:
        issued = _hook_key(hooks, receiver)
        generation_id = hooks.generate(key=issued.api_key, num_images=2)
        generation = hooks.wait(generation_id, key=issued.api_key)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)

    hit = receiver.received[0]
    assert hit.headers["authorization"] == "Bearer cb-secret"
    assert hit.headers["content-type"] == "application/json"
    signing.verify(issued.webhook_secret or "", hit.headers, hit.body)  # raises if forged
    event = json.loads(hit.body)
    assert event["type"] == "image_generation.complete"
    assert event["object"] == "generation" and event["api_version"] == "v1"
    assert isinstance(event["timestamp"], int)
    obj = event["data"]["object"]
    assert obj["id"] == generation_id and obj["status"] == "COMPLETE"
    assert obj["userId"] == issued.user_id and obj["apiKeyId"] == issued.api_key_id
    assert obj["seed"] == str(generation["seed"]) and obj["quantity"] == 2
    assert sorted(unsigned([{"url": i["url"]} for i in obj["images"]]), key=str) == sorted(
        unsigned([{"url": i["url"]} for i in generation["generated_images"]]), key=str
    )
    assert obj["apiKey"]["webhookCallbackUrl"] == receiver.url

    deadline = time.monotonic() + 20  # the receiver answers before the sender records the delivery
    while (delivery := _deliveries(hooks, issued.api_key)[0])["state"] != "delivered":
        assert time.monotonic() < deadline, f"the acknowledged delivery is never recorded: {delivery}"
    assert len(_deliveries(hooks, issued.api_key)) == 1
    assert delivery["id"] == hit.headers["webhook-id"]
    assert delivery["state"] == "delivered" and delivery["attempts"] == 1 and delivery["lastStatus"] == 200
    assert delivery["generationId"] == generation_id


def test_a_receiver_down_for_a_while_gets_every_event_exactly_once(hooks: Api) -> None:
    down_until = time.monotonic() + 1.5
    with Receiver(answer=lambda _h, _b: 200 if time.monotonic() > down_until else 503) as receiver:
        issued = _hook_key(hooks, receiver)
        ids = [hooks.generate(key=issued.api_key, seed=s) for s in (1, 2, 3)]
        receiver.wait_for(lambda r: len(r.acknowledged()) == 3)
        time.sleep(0.5)  # nothing more may arrive once every event is acknowledged

    acknowledged = receiver.acknowledged()
    event_ids = [r.headers["webhook-id"] for r in acknowledged]
    assert len(set(event_ids)) == 3 == len(receiver.acknowledged())
    assert {json.loads(r.body)["data"]["object"]["id"] for r in acknowledged} == set(ids)
    assert any(r.status == 503 for r in receiver.received), "the receiver was never down"
    # a retry carries the same event id and the same bytes as the first try
    for event_id in event_ids:
        bodies = {r.body for r in receiver.received if r.headers["webhook-id"] == event_id}
        assert len(bodies) == 1
    deliveries = _deliveries(hooks, issued.api_key)
    assert {d["state"] for d in deliveries} == {"delivered"}
    retried = max(deliveries, key=lambda d: d["attempts"])
    assert retried["attempts"] > 1
    detail = hooks.get(f"/webhooks/deliveries/{retried['id']}", key=issued.api_key).json()["webhook_delivery"]
    assert [a["statusCode"] for a in detail["attemptLog"]][-1] == 200
    assert all(a["statusCode"] == 503 for a in detail["attemptLog"][:-1])


def test_410_disables_the_key_webhook_and_resend_brings_it_back(hooks: Api) -> None:
    gone = True
    with Receiver(answer=lambda _h, _b: 410 if gone else 204) as receiver:
        issued = _hook_key(hooks, receiver)
        hooks.wait(hooks.generate(key=issued.api_key), key=issued.api_key)
        receiver.wait_for(lambda r: len(r.received) == 1)
        deadline = time.monotonic() + 30
        while _deliveries(hooks, issued.api_key)[0]["state"] != "disabled":  # the 410 is recorded
            assert time.monotonic() < deadline, "the 410 never disabled the delivery"
            time.sleep(0.02)
        assert len(receiver.received) == 1  # and once disabled, nothing is retried
        (delivery,) = _deliveries(hooks, issued.api_key)
        assert delivery["state"] == "disabled" and delivery["lastStatus"] == 410

        hooks.wait(hooks.generate(key=issued.api_key), key=issued.api_key)
        assert len(_deliveries(hooks, issued.api_key)) == 1  # a disabled webhook gets no new events

        gone = False
        response = hooks.post(f"/webhooks/deliveries/{delivery['id']}/resend", key=issued.api_key)
        assert response.status_code == 200 and response.json()["webhook_delivery"]["state"] == "pending"
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
        assert receiver.acknowledged()[0].headers["webhook-id"] == delivery["id"]
        assert receiver.acknowledged()[0].body == receiver.received[0].body

        hooks.wait(hooks.generate(key=issued.api_key), key=issued.api_key)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 2)  # re-enabled for new events


def test_keys_without_a_webhook_and_other_accounts_see_nothing(hooks: Api) -> None:
    with Receiver() as receiver:
        issued = _hook_key(hooks, receiver)
        hooks.wait(hooks.generate(key=issued.api_key), key=issued.api_key)
        hooks.wait(hooks.generate())  # alice's key has no webhook
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
    (delivery,) = _deliveries(hooks, issued.api_key)
    assert _deliveries(hooks, hooks.key) == []
    assert hooks.get(f"/webhooks/deliveries/{delivery['id']}").status_code == 404
    assert hooks.post(f"/webhooks/deliveries/{delivery['id']}/resend").status_code == 404
    assert hooks.get("/webhooks/deliveries?state=lost").status_code == 400
    assert hooks.get("/webhooks/deliveries?limit=0").status_code == 400
    assert hooks.client.get("/api/rest/v1/webhooks/deliveries").status_code == 401


def test_the_cli_prints_the_same_deliveries_the_api_answers(
    hooks: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Receiver() as receiver:
        issued = _hook_key(hooks, receiver)
        generation_id = hooks.generate(key=issued.api_key)
        deadline = time.monotonic() + 60
        # once recorded as delivered, the row holds still while both read it
        while [d["state"] for d in _deliveries(hooks, issued.api_key)] != ["delivered"]:
            assert time.monotonic() < deadline, "the event was never recorded as delivered"
            time.sleep(0.05)
    settings = hooks.ctx.settings
    monkeypatch.setenv("SFUMATO_HOME", str(settings.home))
    monkeypatch.setenv("SFUMATO_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SFUMATO_MODELS_DIR", str(settings.resolved_models_dir))

    result = CliRunner().invoke(cli, ["webhooks", "list", "--user", "hooked", "--json"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    answered = _deliveries(hooks, issued.api_key)
    assert [(d["eventType"], d["generationId"]) for d in answered] == [
        ("image_generation.complete", generation_id)
    ]
    assert printed == answered


def test_failed_generation_sends_a_failed_event(database_url: str, tmp_path: Path, models_dir: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        f"""
[models.broken]
id = "5e0d7a55-0000-4000-8000-00000000b0b0"
name = "Broken model"
description = "weights that cannot load"
family = "sd15"
source = "{broken}"
sd_version = "v1_5"
default_steps = 10
default_guidance = 7.0
default_width = 64
default_height = 64
max_steps = 60
featured = false
nsfw = false
"""
    )
    settings = make_settings(
        database_url, tmp_path, models_dir, catalog_file=catalog, max_attempts=1, **FAST_WEBHOOKS
    )
    ctx = build_context(settings)
    with Receiver() as receiver, TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="dave", webhook_url=receiver.url)
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        generation_id = api.generate(modelId="broken")
        assert api.wait(generation_id)["status"] == "FAILED"
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
    event = json.loads(receiver.received[0].body)
    assert event["type"] == "image_generation.failed"
    assert event["data"]["object"]["id"] == generation_id
    assert event["data"]["object"]["failureReason"]
    assert "authorization" not in receiver.received[0].headers  # no webhook key was set


def test_private_targets_are_refused_unless_allow_listed(hooks: Api) -> None:
    for url in (
        "http://10.1.2.3/hook",
        "https://127.0.0.2:9/hook",
        "https://[::1]/x",
        "http://169.254.169.254/latest",
        "ftp://example.com/x",
    ):
        try:
            issue_key(hooks.ctx, username="mallory", webhook_url=url)
        except InvalidRequest as exc:
            assert exc.code == "invalid-webhook-url"
        else:
            raise AssertionError(f"{url} was accepted")
    try:
        issue_key(hooks.ctx, username="mallory", webhook_key="k")
    except InvalidRequest as exc:
        assert "webhook URL" in exc.message
    else:
        raise AssertionError("a webhook key without URL was accepted")


def test_delivery_time_guard_refuses_without_connecting(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    """A target allowed when the key was made but not any more is refused, and nothing is sent."""
    settings = make_settings(database_url, tmp_path, models_dir, **FAST_WEBHOOKS)
    ctx = build_context(settings)
    with Receiver() as receiver:
        issued = issue_key(ctx, username="erin", webhook_url=receiver.url)
        with ctx.db.transaction() as session:
            key = webhooks_store.key_of(session, issued.api_key_id)
            assert key is not None
            webhooks_store.add(session, key=key, event_type="test.complete", job_id=None, job_kind="test",
                               subject_id=None)  # fmt: skip
        strict = WebhookSender(db=ctx.db, blobs=ctx.blobs, catalog=ctx.catalog, allow=AllowList())
        assert strict.run_once() == 1
        assert receiver.received == []
    with ctx.db.read() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert delivery.state == "failed"
        assert delivery.last_error and "refused" in delivery.last_error and "127.0.0.1" in delivery.last_error
    ctx.db.dispose()


def test_an_event_of_this_process_is_sent_at_once_not_at_the_next_poll(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    slow_poll = {**FAST_WEBHOOKS, "webhook_poll_seconds": 60}
    settings = make_settings(database_url, tmp_path, models_dir, **slow_poll)
    ctx = build_context(settings)
    with Receiver() as receiver, TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="quick", webhook_url=receiver.url)
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        api.wait(api.generate())
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1, timeout=20)  # well before the 60 s poll
