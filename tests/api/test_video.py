"""Text- and image-to-video through the official SDK, on the tiny video models."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from leonardo_ai_sdk.models import shared

from sfumato.service.keys import issue_key
from sfumato.store.models import CreditEntry, Job
from tests.api.canvas import balance, picture_at
from tests.api.conftest import BASE, Api
from tests.api.sdk import sdk_for
from tests.api.uploading import noise_png, upload
from tests.api.video import Clip, fetch_clip, video_app
from tests.webhooks.conftest import FAST_WEBHOOKS
from tests.webhooks.receiver import Receiver
from tests.webhooks.urls import unsigned


@pytest.fixture
def api(database_url: str, tmp_path: Path, models_dir: Path) -> Any:
    with video_app(database_url, tmp_path, models_dir) as app:
        yield app


def text_to_video(api: Api, key: str | None = None, **request: Any) -> str:
    request = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "duration": 2, **request}
    response = sdk_for(api, key).motion.create_text_to_video_generation(request=request)
    job = response.object.motion_video_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id
    return job.generation_id


def finished_clip(api: Api, generation_id: str) -> tuple[dict[str, Any], Clip]:
    generation = api.wait(generation_id)
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    [image] = generation["generated_images"]
    return generation, fetch_clip(api, image["motionMP4URL"])


def test_text_to_video_round_trips_as_a_real_mp4(api: Api) -> None:
    sdk = sdk_for(api)
    before = balance(api)
    generation_id = text_to_video(api, seed=11)
    fetched = sdk.image.get_generation_by_id(id=generation_id)
    while fetched.object.generations_by_pk.status == shared.JobStatus.PENDING:  # type: ignore[union-attr]
        api.wait(generation_id)
        fetched = sdk.image.get_generation_by_id(id=generation_id)
    generation = fetched.object.generations_by_pk  # type: ignore[union-attr]
    assert generation is not None and generation.status == shared.JobStatus.COMPLETE
    [image] = generation.generated_images or []
    assert image.motion and image.motion_mp4_url and image.motion_model == "MOTION2"
    assert balance(api) == before - 40  # MOTION_VIDEO_GENERATION at 480p and below

    raw = api.wait(generation_id)
    assert raw["motionModel"] == "MOTION2"
    assert unsigned({"url": raw["motionMP4URL"]}) == unsigned({"url": image.motion_mp4_url})
    clip = fetch_clip(api, image.motion_mp4_url)
    # 2 s at the tiny model's 8 fps, plus the first frame: 17 = 8·2 + 1 frames.
    assert clip.frames.shape == (17, 64, 64, 3) and clip.fps == 8
    assert clip.codec == "h264" and clip.pixel_format == "yuv420p"
    assert clip.boxes.index("moov") < clip.boxes.index("mdat")  # faststart
    poster = picture_at(api, image.url or "")
    assert poster.format == "PNG" and poster.size == (64, 64)
    listed = sdk.image.get_generations_by_user_id(user_id=api.user_id).object.generations  # type: ignore[union-attr]
    assert listed is not None and listed[0].generated_images  # the SDK reads a clip in a listing too
    listed_url = listed[0].generated_images[0].motion_mp4_url
    assert unsigned({"url": listed_url}) == unsigned({"url": image.motion_mp4_url})
    lineage = raw["lineage"]
    assert lineage["modelKey"] == "tiny-ltx-video" and lineage["seed"] == 11
    assert lineage["frameCount"] == 17 and lineage["fps"] == 8 and lineage["weightsHash"]
    assert lineage["scheduler"] == "FlowMatchEulerDiscreteScheduler" and lineage["videoSha256"]


def test_the_same_seed_draws_the_same_frames_and_another_seed_others(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    # No de-duplication, so the same request runs twice.
    with video_app(database_url, tmp_path, models_dir, dedupe_window_seconds=0) as api:
        first_id, again_id = text_to_video(api, seed=5, duration=1), text_to_video(api, seed=5, duration=1)
        assert first_id != again_id
        (_, first), (_, again) = finished_clip(api, first_id), finished_clip(api, again_id)
        _, other = finished_clip(api, text_to_video(api, seed=6, duration=1))
    assert first.frames.shape == other.frames.shape == (9, 64, 64, 3)
    assert np.array_equal(first.frames, again.frames)
    assert not np.array_equal(first.frames, other.frames)


def test_resolution_and_duration_decide_size_and_frames(api: Api) -> None:
    generation_id = text_to_video(
        api, width=None, height=None, resolution="RESOLUTION_480", duration=1, seed=1
    )
    generation, clip = finished_clip(api, generation_id)
    # The tiny model is square: 480 × 480, 9 frames.
    assert clip.size == (480, 480) and clip.frames.shape[0] == 9
    assert (generation["imageWidth"], generation["imageHeight"]) == (480, 480)


def test_a_wan_motion_model_draws_four_k_plus_one_frames(api: Api) -> None:
    generation_id = text_to_video(api, model="VEO3", width=32, height=48, duration=1)
    generation, clip = finished_clip(api, generation_id)
    assert clip.frames.shape == (9, 48, 32, 3) and clip.fps == 8  # 8 frames at 8 fps + 1
    assert generation["motionModel"] == "VEO3" and generation["lineage"]["modelKey"] == "tiny-wan"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"prompt": "  "}, "prompt must not be empty"),
        ({"duration": 30}, "at most 10 s"),
        ({"duration": 9}, "at most 65"),
        ({"width": 60}, "multiple of 32"),
        ({"width": 2048, "height": 64}, "at most 1920 px"),
        ({"styleIds": ["0f3b0b9e-6a4a-4a5f-9b2b-111111111111"]}, "styleIds"),
        ({"model": "KLING9"}, None),
    ],
)
def test_bad_video_requests_are_4xx_and_charge_nothing(
    api: Api, body: dict[str, Any], words: str | None
) -> None:
    before = balance(api)
    request = {"prompt": "a fox", "width": 64, "height": 64, "duration": 1, **body}
    response = api.post("/generations-text-to-video", json=request)
    assert 400 <= response.status_code < 500, response.text
    if words is not None:
        assert words in response.json()["error"]
    assert balance(api) == before
    with api.ctx.db.read() as session:
        assert session.query(Job).count() == 0


def test_an_unmapped_motion_model_is_refused_naming_how_to_map_it(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with video_app(
        database_url,
        tmp_path,
        models_dir,
        model_aliases={"MOTION2": "tiny-ltx-video", "KLING2_5": ""},
        svd_model="svd-xt",
    ) as api:
        response = api.post("/generations-text-to-video", json={"prompt": "a fox", "model": "KLING2_5"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert "KLING2_5" in error and "SFUMATO_MODEL_ALIASES" in error
        # VEO3 maps to the real Wan 2.2 by default, whose weights are not here.
        response = api.post("/generations-text-to-video", json={"prompt": "a fox", "model": "VEO3"})
        assert response.status_code == 400
        error = response.json()["error"]
        assert "wan2.2-ti2v-5b" in error and "sfumato models pull" in error
        # So does SVD motion on its default model, the real SVD-XT.
        response = api.post("/generations-motion-svd", json={"imageId": "any"})
        assert response.status_code == 400 and "svd-xt" in response.json()["error"]


def test_a_seeded_duplicate_is_one_generation_charged_once(api: Api) -> None:
    before = balance(api)
    first = text_to_video(api, seed=3, duration=1)
    assert text_to_video(api, seed=3, duration=1) == first
    assert balance(api) == before - 40
    with api.ctx.db.read() as session:
        debits = session.query(CreditEntry).filter(CreditEntry.subject_id == first).count()
    assert debits == 1


def test_an_idempotency_key_answers_a_retried_request_with_the_same_clip(api: Api) -> None:
    before = balance(api)
    body = {"prompt": "a fox", "width": 64, "height": 64, "duration": 1}  # no seed: no de-duplication
    headers = {**api.headers(), "Idempotency-Key": "clip-1"}
    first, again = (
        api.client.post(f"{BASE}/generations-text-to-video", json=body, headers=headers).json()
        for _ in range(2)
    )
    assert first == again and balance(api) == before - 40
    assert api.wait(first["motionVideoGenerationJob"]["generationId"])["status"] == "COMPLETE"


def test_image_to_video_starts_from_an_uploaded_or_generated_picture(api: Api) -> None:
    sdk = sdk_for(api)
    uploaded = upload(api, noise_png((128, 64), seed=1))
    other = upload(api, noise_png((128, 64), seed=2))

    def animate(image_id: str, image_type: str, **extra: Any) -> str:
        request = {"prompt": "waves", "imageId": image_id, "imageType": image_type, "duration": 1,
                   "seed": 21, **extra}  # fmt: skip
        job = sdk.motion.create_image_to_video_generation(request=request).object.motion_video_generation_job  # type: ignore[union-attr]
        assert job is not None and job.generation_id
        return job.generation_id

    generation, clip = finished_clip(api, animate(uploaded, "UPLOADED"))
    # The picture's 2:1 aspect within the tiny model's 64 × 64 pixels, in multiples of 32.
    assert clip.size == (96, 32) and clip.frames.shape[0] == 9
    assert generation["imageToVideo"] is True and generation["initImageId"] == uploaded
    assert generation["initImageSha256"] and generation["generated_images"][0]["imageToVideo"] is True
    _, different = finished_clip(api, animate(other, "UPLOADED"))
    # Same seed, another first frame: other frames (the picture conditions the model).
    assert clip.frames.shape == different.frames.shape
    assert not np.array_equal(clip.frames, different.frames)

    still = api.wait(api.generate(seed=4))["generated_images"][0]["id"]
    generation, from_generated = finished_clip(api, animate(still, "GENERATED"))
    assert generation["initGeneratedImageId"] == still and from_generated.size == (64, 64)


def test_an_end_frame_holds_the_clip_to_its_last_picture(api: Api) -> None:
    first, last, other = (upload(api, noise_png((64, 64), seed=s)) for s in (1, 2, 3))
    body = {"prompt": "a door opens", "imageId": first, "imageType": "UPLOADED", "duration": 1, "seed": 9}
    ids = [
        api.post(
            "/generations-image-to-video", json={**body, "endFrameImage": {"id": end, "type": "UPLOADED"}}
        ).json()["motionVideoGenerationJob"]["generationId"]
        for end in (last, other)
    ]
    (generation, clip), (_, other_clip) = (finished_clip(api, i) for i in ids)
    assert generation["endFrameImageId"] == last and generation["endFrameImageSha256"]
    assert not np.array_equal(clip.frames, other_clip.frames)


def test_bad_image_to_video_requests_are_refused(api: Api) -> None:
    before = balance(api)
    cases = [
        ({"imageId": "nope", "imageType": "UPLOADED"}, "imageId: no init image"),
        ({"imageId": "nope", "imageType": "GENERATED"}, "imageId: no generated image"),
        ({"imageId": "x", "imageType": "SOMETHING"}, None),
    ]
    for body, words in cases:
        response = api.post("/generations-image-to-video", json={"prompt": "waves", **body})
        assert response.status_code == 400, response.text
        if words:
            assert words in response.json()["error"]
    uploaded = upload(api, noise_png((64, 64)))
    response = api.post(
        "/generations-image-to-video",
        json={"prompt": "w", "imageId": uploaded, "imageType": "UPLOADED", "model": "VEO3",
              "endFrameImage": {"id": uploaded, "type": "UPLOADED"}},
    )  # fmt: skip
    assert response.status_code == 400 and "last frame" in response.json()["error"]
    assert balance(api) == before


def test_a_finished_clip_is_webhooked_in_the_generation_shape(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with video_app(database_url, tmp_path, models_dir, **FAST_WEBHOOKS) as api, Receiver() as receiver:
        issued = issue_key(api.ctx, username="hooked", webhook_url=receiver.url, webhook_key="cb")
        generation = api.wait(text_to_video(api, key=issued.api_key, seed=2, duration=1), key=issued.api_key)
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1)
    event = json.loads(receiver.received[0].body)
    assert event["type"] == "video_generation.complete" and event["object"] == "generation"
    obj = event["data"]["object"]
    assert obj["id"] == generation["id"] and obj["status"] == "COMPLETE" and obj["motionModel"] == "MOTION2"
    [image] = obj["generated_images"]
    polled = generation["generated_images"][0]["motionMP4URL"]
    assert unsigned({"url": image["motionMP4URL"]}) == unsigned({"url": polled})


@pytest.mark.parametrize(
    ("body", "service", "params"),
    [
        ({"resolution": "RESOLUTION_720", "width": None, "height": None}, "MOTION_VIDEO_GENERATION",
         {"resolution": "RESOLUTION_720"}),
        ({"model": "VEO3", "width": 32, "height": 32}, "VEO3_MOTION_VIDEO_GENERATION",
         {"resolution": "RESOLUTION_480"}),
    ],
)  # fmt: skip
def test_a_clip_is_charged_what_the_calculator_quotes(
    api: Api, body: dict[str, Any], service: str, params: dict[str, Any]
) -> None:
    quote = api.post("/pricing-calculator", json={"service": service, "serviceParams": {service: params}})
    assert quote.status_code == 200, quote.text
    before = balance(api)
    response = api.post("/generations-text-to-video", json={"prompt": "a fox", "duration": 1, **body})
    assert response.status_code == 200, response.text
    cost = quote.json()["calculateProductionApiServiceCost"]["cost"]
    assert response.json()["motionVideoGenerationJob"]["apiCreditCost"] == cost == before - balance(api)


def test_svd_motion_animates_a_generated_or_uploaded_picture(api: Api) -> None:
    sdk = sdk_for(api)
    still = api.wait(api.generate(seed=4))["generated_images"][0]["id"]
    before = balance(api)
    response = sdk.motion.create_svd_motion_generation(request={"imageId": still, "motionStrength": 3})
    job = response.object.motion_svd_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id and job.api_credit_cost == 25
    assert balance(api) == before - 25  # MOTION_SVD_GENERATION
    generation, clip = finished_clip(api, job.generation_id)
    # The tiny SVD's own 8 frames at 7 fps, the picture's 64 × 64.
    assert clip.frames.shape == (8, 64, 64, 3) and clip.fps == 7 and clip.codec == "h264"
    assert generation["motionModel"] == "SVD" and generation["motionStrength"] == 3
    assert generation["initGeneratedImageId"] == still
    assert generation["lineage"]["modelKey"] == "tiny-svd" and generation["lineage"]["motionBucket"] == 76

    uploaded = upload(api, noise_png((64, 64)))
    request = {"imageId": uploaded, "isInitImage": True}
    job = sdk.motion.create_svd_motion_generation(request=request).object.motion_svd_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id
    generation, clip = finished_clip(api, job.generation_id)
    assert generation["initImageId"] == uploaded and clip.frames.shape[0] == 8
    assert generation["lineage"]["motionBucket"] == 128  # motion strength 5 when not given

    for body in ({"imageId": "nope"}, {"imageId": uploaded, "motionStrength": 11}):
        assert api.post("/generations-motion-svd", json=body).status_code == 400


def test_a_clip_upscaled_to_720p_frame_by_frame(api: Api) -> None:
    sdk = sdk_for(api)
    source_id = text_to_video(api, width=96, height=64, duration=1, seed=3)
    _, source = finished_clip(api, source_id)
    before = balance(api)
    request = {"sourceGenerationId": source_id, "resolution": "RESOLUTION_720"}
    job = sdk.motion.create_video_upscale(request=request).object.motion_video_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id == source_id and job.variation_id
    assert balance(api) == before - (job.api_credit_cost or 0) and job.api_credit_cost
    deadline = time.monotonic() + 60
    while True:
        fetched = sdk.variation.get_motion_variation_by_id(id=job.variation_id)
        [variation] = fetched.object.generated_image_variation_motion or []  # type: ignore[union-attr]
        if variation.status != shared.JobStatus.PENDING or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert variation.status == shared.JobStatus.COMPLETE and variation.id == job.variation_id
    assert variation.motion_transform_type == shared.MotionVariationType.UPSCALE
    assert variation.resolution == shared.MotionResolution.RESOLUTION_720 and variation.url
    clip = fetch_clip(api, variation.url)
    # 720 px high, 3:2 like the source: 1080 wide; every frame, at the source's rate.
    assert clip.size == (1080, 720) and clip.frames.shape[0] == source.frames.shape[0] == 9
    assert clip.fps == source.fps and clip.codec == "h264" and clip.pixel_format == "yuv420p"
    # The generation lists no image variation for it (the SDK's generic types know none).
    generation = api.wait(source_id)
    assert generation["generated_images"][0]["generated_image_variation_generics"] == []


def test_bad_video_upscales_are_refused_and_charge_nothing(api: Api) -> None:
    still = api.wait(api.generate(seed=1))["id"]
    before = balance(api)
    for body in (
        {"sourceGenerationId": "nope", "resolution": "RESOLUTION_720"},
        {"sourceGenerationId": still, "resolution": "RESOLUTION_720"},
        {"sourceGenerationId": still, "resolution": "RESOLUTION_1080"},
    ):
        response = api.post("/generations-video-upscale", json=body)
        assert response.status_code == 400, response.text
    assert (
        "not a finished video"
        in api.post(
            "/generations-video-upscale", json={"sourceGenerationId": still, "resolution": "RESOLUTION_720"}
        ).json()["error"]
    )
    assert api.get("/motion-variations/nope").status_code == 404
    assert balance(api) == before
