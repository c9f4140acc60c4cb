"""A webhook's ``data.object`` is the API's own rendering of the same row, plus the event's fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sfumato.service.keys import issue_key
from tests.api.canvas import canvas_app
from tests.api.conftest import Api
from tests.api.test_image_editing import EDIT, _canvas, _center_mask
from tests.api.uploading import noise_png
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import Receiver
from tests.webhooks.urls import unsigned

# Documented for the event alone, or spelled differently there (``seed`` is a string).
EVENT_ONLY = {"updatedAt", "userId", "flagged", "nsfw", "coreModel", "initType", "quantity", "seed", "api",
              "highContrast", "alchemy", "controlnetsUsed", "apiDollarCost", "apiKeyId", "model", "images",
              "apiKey"}  # fmt: skip


def _event(receiver: Receiver, subject_id: str) -> dict[str, Any]:
    for hit in receiver.acknowledged():
        event = json.loads(hit.body)
        if event["data"]["object"]["id"] == subject_id:
            return dict(event)
    raise AssertionError(f"no event for {subject_id}")


def _shared_fields_equal(api_object: dict[str, Any], event_object: dict[str, Any]) -> None:
    shared = set(api_object) - EVENT_ONLY
    assert unsigned({name: event_object.get(name) for name in shared}) == unsigned(
        {name: api_object[name] for name in shared}
    )


def test_a_canvas_generation_event_carries_what_get_returns(hooks: Api) -> None:
    with Receiver() as receiver:
        issued = issue_key(hooks.ctx, username="painter", webhook_url=receiver.url)
        hooks.key = issued.api_key
        init_id, mask_id = _canvas(hooks, noise_png(seed=3), _center_mask())
        generation_id = hooks.generate(**EDIT, canvasRequest=True, canvasRequestType="INPAINT",
                                       canvasInitId=init_id, canvasMaskId=mask_id)  # fmt: skip
        fetched = hooks.wait(generation_id)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
    event = _event(receiver, generation_id)
    assert event["type"] == "image_generation.complete" and event["object"] == "generation"
    obj = event["data"]["object"]
    assert fetched["status"] == "COMPLETE", fetched.get("failureReason")
    _shared_fields_equal(fetched, obj)
    assert obj["canvasInitImageId"] == init_id and obj["canvasMaskImageId"] == mask_id
    assert obj["canvasRequest"] is True and obj["imageToImage"] is True and obj["initType"] == "UPLOADED"
    assert obj["initImageId"] is None  # a canvas names its picture as canvasInitImageId
    assert obj["lineage"] == fetched["lineage"] and obj["lineage"]["task"] == "inpaint"
    assert obj["seed"] == str(fetched["seed"]) and obj["quantity"] == 1
    assert unsigned([{"url": i["url"]} for i in obj["images"]]) == unsigned(
        [{"url": i["url"]} for i in fetched["generated_images"]]
    )


def test_an_image_to_image_event_carries_what_get_returns(hooks: Api) -> None:
    with Receiver() as receiver:
        issued = issue_key(hooks.ctx, username="editor", webhook_url=receiver.url)
        hooks.key = issued.api_key
        made = hooks.wait(hooks.generate(**EDIT))
        [image] = made["generated_images"]
        generation_id = hooks.generate(**EDIT, init_generation_image_id=image["id"], init_strength=0.4)
        fetched = hooks.wait(generation_id)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 2)
    obj = _event(receiver, generation_id)["data"]["object"]
    _shared_fields_equal(fetched, obj)
    assert obj["initGeneratedImageId"] == image["id"] and obj["initType"] == "GENERATED"
    assert obj["initStrength"] == 0.4 and obj["canvasInitImageId"] is None
    text_only = _event(receiver, made["id"])["data"]["object"]
    assert text_only["imageToImage"] is False and text_only["initImageId"] is None


def test_a_variation_event_carries_what_get_variation_returns(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with Receiver() as receiver, canvas_app(database_url, tmp_path, models_dir, **FAST_WEBHOOKS) as api:
        issued = issue_key(api.ctx, username="upscaler", webhook_url=receiver.url)
        api.key = issued.api_key
        made = api.wait(api.generate(**EDIT))
        response = api.post("/variations/upscale", json={"id": made["generated_images"][0]["id"]})
        assert response.status_code == 200, response.text
        variation_id = response.json()["sdUpscaleJob"]["id"]
        receiver.wait_for(lambda r: len(r.acknowledged()) == 2, timeout=120)
        [fetched] = api.get(f"/variations/{variation_id}").json()["generated_image_variation_generic"]
    event = _event(receiver, variation_id)
    assert event["object"] == "variation" and event["type"].endswith(".complete")
    obj = event["data"]["object"]
    assert {name: obj[name] for name in fetched} == fetched
    assert fetched["status"] == "COMPLETE" and fetched["lineage"]["task"]
    assert obj["userId"] == issued.user_id and obj["apiKeyId"] == issued.api_key_id
