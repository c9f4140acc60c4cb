"""A training's end is POSTed to its key's webhook, rendered as its GET renders it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings
from tests.training.conftest import TINY_BASES
from tests.training.test_custom_models import colour_dataset
from tests.training.waiting import wait_trained
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import Receiver
from tests.webhooks.urls import unsigned


@pytest.fixture
def hooked_trainer(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    training = {"training_base_models": TINY_BASES, "training_max_steps": 4, "training_suite": ["{instance}"]}
    settings = make_settings(database_url, tmp_path, models_dir, **training, **FAST_WEBHOOKS)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def test_training_complete_event_renders_the_model_as_its_get(hooked_trainer: Api) -> None:
    api = hooked_trainer
    with Receiver() as receiver:
        issued = issue_key(api.ctx, username="hooked", webhook_url=receiver.url, webhook_key="cb")
        key = issued.api_key
        body = {
            "name": "m",
            "datasetId": colour_dataset(api, key),
            "instance_prompt": "sks",
            "resolution": 64,
        }
        model_id = api.post("/models", json=body, key=key).json()["sdTrainingJob"]["customModelId"]
        got = wait_trained(api, f"/models/{model_id}", "custom_models_by_pk", key=key)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
        event = json.loads(receiver.received[0].body)
        assert event["type"] == "training.complete" and event["object"] == "custom_model"
        obj = event["data"]["object"]
        assert obj["id"] == model_id and obj["status"] == "COMPLETE" and obj["userId"] == issued.user_id
        assert unsigned(obj["evaluation"]) == unsigned(got["evaluation"])
        assert obj["lineage"]["lora_sha256"] == got["lineage"]["lora_sha256"]
