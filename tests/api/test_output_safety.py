"""The output safety check: the tiny classifier, driven by the threshold (0 flags every
picture, 1 none), and each account's mode — flag, blur, withhold."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from sfumato.blobs import BlobNotFound
from sfumato.jobs.artifacts import image_key
from sfumato.service import policy
from sfumato.service.keys import issue_key
from sfumato.store.models import Job
from sfumato.worker.loop import Worker
from sfumato.worker.screening import VIDEO_SAMPLES, original_key
from tests.api.canvas import balance, canvas_app, data_url, from_data_url, noise, wait_variation
from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.api.test_video import text_to_video
from tests.api.uploading import fetch, noise_png, upload
from tests.api.video import video_app
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import Receiver

SMALL = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10,
         "prompt": "a lighthouse", "seed": 7}  # fmt: skip


@pytest.fixture(params=[0.0, 1.0], ids=["threshold-0", "threshold-1"])
def threshold(request: pytest.FixtureRequest) -> float:
    return float(request.param)


@pytest.fixture
def checked(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """Everything flagged (threshold 0); originals of blurred pictures kept."""
    with canvas_app(database_url, tmp_path, models_dir, safety_model="tiny-safety", safety_threshold=0.0,
                    safety_keep_originals=True) as api:  # fmt: skip
        yield api


def _worker(api: Api) -> Worker:
    worker = getattr(api.ctx.local_models, "__self__", None)
    assert isinstance(worker, Worker)
    return worker


def _picture(api: Api, url: str) -> np.ndarray:
    response = fetch(api, url)
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def _flags(api: Api) -> float:
    series = 'sfumato_content_policy_flags_total{action="flag",category="nsfw"} '
    lines = [line for line in api.client.get("/metrics").text.splitlines() if line.startswith(series)]
    return float(lines[0].split()[-1]) if lines else 0.0


def _roughness(pixels: np.ndarray) -> float:
    """Mean difference between neighbouring pixels: a blur lowers it."""
    return float(np.abs(np.diff(pixels, axis=1)).mean())


def test_the_sdk_sees_nsfw_as_the_classifier_and_threshold_say(
    database_url: str, tmp_path: Path, models_dir: Path, threshold: float
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, safety_model="tiny-safety",
                    safety_threshold=threshold) as api:  # fmt: skip
        flags_before = _flags(api)
        generation_id = api.generate(**{**SMALL, "num_images": 2})
        api.wait(generation_id)
        sdk = sdk_for(api)
        seen = sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk  # type: ignore[union-attr]
        assert seen is not None and seen.generated_images is not None and len(seen.generated_images) == 2
        assert [image.nsfw for image in seen.generated_images] == [threshold == 0.0] * 2
        [image] = seen.generated_images[:1]
        assert image.id is not None
        upscale = sdk.variation.create_variation_upscale(request={"id": image.id}).object
        variation_id = upscale.sd_upscale_job.id  # type: ignore[union-attr]
        variation = wait_variation(api, str(variation_id))
        assert variation["status"] == "COMPLETE" and variation["nsfw"] is (threshold == 0.0)
        assert _flags(api) - flags_before == (3 if threshold == 0.0 else 0)  # two images, one upscale
        lineage = api.get(f"/generations/{generation_id}").json()["generations_by_pk"]["lineage"]
        assert lineage["safety"]["model"] == "tiny-safety" and len(lineage["safety"]["scores"]) == 2


def test_blur_stores_a_blurred_picture_of_the_same_size_and_keeps_the_original_aside(checked: Api) -> None:
    api = checked
    bob, _ = api.new_key("bob")
    policy.update_account_policy(api.ctx, username="alice", mode="blur")
    plain = api.wait(api.generate(key=bob, **SMALL), key=bob)
    blurred = api.wait(api.generate(**SMALL))
    assert blurred["status"] == "COMPLETE"
    [shown] = blurred["generated_images"]
    [original] = plain["generated_images"]
    assert shown["nsfw"] is True and original["nsfw"] is True
    ours, theirs = _picture(api, shown["url"]), _picture(api, original["url"])
    assert ours.shape == theirs.shape == (64, 64, 3)
    assert np.abs(ours - theirs).mean() > 1 and _roughness(ours) < _roughness(theirs) / 2
    with api.ctx.db.read() as session:
        from sfumato.store.models import GeneratedImage

        row = session.get(GeneratedImage, shown["id"])
        assert row is not None
        kept = api.ctx.blobs.get(original_key(row.blob_key))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(kept)).convert("RGB"), dtype=np.int16), theirs)


def test_withhold_serves_nothing_says_why_and_refunds(checked: Api) -> None:
    api = checked
    policy.update_account_policy(api.ctx, username="alice", mode="withhold")
    before = balance(api)
    generation = api.wait(api.generate(**{**SMALL, "num_images": 2}))
    assert generation["status"] == "FAILED" and generation["generated_images"] == []
    assert "withheld by the content policy" in generation["failureReason"]
    assert balance(api) == before
    for position in range(2):
        with pytest.raises(BlobNotFound):
            api.ctx.blobs.get(image_key(generation["id"], position, 1))


def test_withholding_some_outputs_keeps_the_rest_and_refunds_their_share(checked: Api) -> None:
    api = checked
    bob, _ = api.new_key("bob")
    body: dict[str, Any] = {**SMALL, "num_images": 4}
    scores = api.wait(api.generate(key=bob, **body), key=bob)["lineage"]["safety"]["scores"]
    middle = sorted(scores)[1:3]
    assert middle[0] < middle[1], scores  # the tiny classifier's scores differ from picture to picture
    worker = _worker(api)
    assert worker.screening is not None
    worker.screening = replace(worker.screening, threshold=sum(middle) / 2)
    policy.update_account_policy(api.ctx, username="alice", mode="withhold")
    before = balance(api)
    generation = api.wait(api.generate(**body))
    assert generation["status"] == "COMPLETE"
    kept = sorted(image["nsfw"] for image in generation["generated_images"])
    assert kept == [False, False], generation["generated_images"]
    assert "2 of 4 output(s) withheld" in generation["failureReason"]
    cost = api.ctx.pricing.image_generation(family="sd15", width=64, height=64, steps=10, num_images=4)
    assert before - balance(api) == cost - cost * 2 // 4  # the two withheld images' share refunded


def test_the_realtime_canvas_answer_is_blurred_or_withheld_per_the_account(checked: Api) -> None:
    api = checked
    bob, _ = api.new_key("bob")
    body = {"imageDataUrl": data_url(noise(seed=4)), "prompt": "a lighthouse", "width": 64, "height": 64,
            "seed": 5}  # fmt: skip
    plain = api.post("/generations-lcm", json=body, key=bob)
    assert plain.status_code == 200, plain.text
    policy.update_account_policy(api.ctx, username="alice", mode="blur")
    soft = api.post("/generations-lcm", json=body)
    assert soft.status_code == 200, soft.text
    theirs, ours = (
        np.asarray(
            from_data_url(r.json()["lcmGenerationJob"]["imageDataUrl"][0]).convert("RGB"), dtype=np.int16
        )
        for r in (plain, soft)
    )
    assert ours.shape == theirs.shape and _roughness(ours) < _roughness(theirs) / 2
    policy.update_account_policy(api.ctx, username="alice", mode="withhold")
    before = balance(api)
    withheld = api.post("/generations-lcm", json=body)
    assert withheld.status_code == 400 and withheld.json()["code"] == "content-policy", withheld.text
    assert "withheld by the content policy" in withheld.json()["error"]
    assert balance(api) == before


def test_a_webhook_event_carries_the_nsfw_flags(database_url: str, tmp_path: Path, models_dir: Path) -> None:
    with (
        canvas_app(database_url, tmp_path, models_dir, safety_model="tiny-safety", safety_threshold=0.0,
                   **FAST_WEBHOOKS) as api,
        Receiver() as receiver,
    ):  # fmt: skip
        api.key = issue_key(api.ctx, username="hooked", webhook_url=receiver.url).api_key
        generation_id = api.generate(**SMALL)
        api.wait(generation_id)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
    [hit] = receiver.acknowledged()
    event = json.loads(hit.body)["data"]["object"]
    assert event["id"] == generation_id and event["nsfw"] is True
    assert [image["nsfw"] for image in event["images"]] == [True]


def test_uploaded_pictures_are_checked_when_the_operator_asks(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, safety_model="tiny-safety", safety_threshold=0.0,
                    safety_check_uploads=True) as api:  # fmt: skip
        init_id = upload(api, noise_png(seed=1))
        canvas = {
            "imageDataUrl": data_url(noise(seed=2)),
            "prompt": "a lighthouse",
            "width": 64,
            "height": 64,
        }
        attempts = [
            ("/generations", {**SMALL, "init_image_id": init_id, "init_strength": 0.3}),
            ("/generations-lcm", canvas),
            ("/variations/universal-upscaler", {"initImageId": init_id}),
        ]
        before = balance(api)
        for path, body in attempts:
            response = api.post(path, json=body)
            assert response.status_code == 400 and response.json()["code"] == "content-policy", response.text
            assert "its picture falls under the category 'nsfw'" in response.json()["error"]
        assert balance(api) == before
        with api.ctx.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Job)) == 0
        api.ctx.settings.safety_threshold = 1.0  # nothing flagged: the same pictures pass
        for path, body in attempts:
            assert api.post(path, json=body).status_code == 200


def test_a_clip_is_judged_by_frames_spread_over_it_and_withheld_rather_than_blurred(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    settings = {"safety_model": "tiny-safety", "safety_threshold": 0.0}
    with video_app(database_url, tmp_path, models_dir, **settings) as api:
        flagged = api.wait(text_to_video(api, seed=3))
        assert flagged["status"] == "COMPLETE", flagged.get("failureReason")
        [image] = flagged["generated_images"]
        assert image["nsfw"] is True
        safety = flagged["lineage"]["safety"]
        assert safety["pictures"] == [VIDEO_SAMPLES] and safety["flagged"] == [0]
        policy.update_account_policy(api.ctx, username="alice", mode="blur")  # a clip cannot be blurred
        before = balance(api)
        withheld = api.wait(text_to_video(api, seed=4))
        assert withheld["status"] == "FAILED"
        assert "withheld by the content policy" in withheld["failureReason"]
        assert balance(api) == before
