"""Variations through the official SDK: upscale, universal upscaler, unzoom, no background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from leonardo_ai_sdk.models import operations, shared

from sfumato.service.keys import issue_key
from sfumato.store.models import CreditEntry, GeneratedImage, Job, Variation, WebhookDelivery
from tests.api.canvas import balance, canvas_app, picture_at, wait_variation
from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.api.uploading import noise_png, upload


@pytest.fixture
def api(database_url: str, tmp_path: Path, models_dir: Path) -> Any:
    with canvas_app(database_url, tmp_path, models_dir) as app:
        yield app


def generated_image(api: Api, key: str | None = None) -> dict[str, Any]:
    generation = api.wait(api.generate(key=key), key=key)
    assert generation["status"] == "COMPLETE"
    return dict(generation["generated_images"][0])


def test_upscale_variation_round_trips_and_shows_on_its_generation(api: Api) -> None:
    sdk = sdk_for(api)
    image = generated_image(api)
    before = balance(api)
    job = sdk.variation.create_variation_upscale(request={"id": image["id"]}).object.sd_upscale_job  # type: ignore[union-attr]
    assert job is not None and job.id and job.cost is not None
    assert balance(api) == before - int(job.cost.amount or 0)
    variation = wait_variation(api, job.id)
    fetched = sdk.variation.get_variation_by_id(id=job.id).object.generated_image_variation_generic  # type: ignore[union-attr]
    assert fetched is not None and fetched[0].status == shared.JobStatus.COMPLETE
    assert fetched[0].transform_type == shared.VariationType.UPSCALE
    upscaled = picture_at(api, variation["url"])
    assert upscaled.format == "PNG" and upscaled.size == (128, 128)  # exactly twice 64 × 64
    generation = sdk.image.get_generation_by_id(
        id=api.get("/generations/user/" + api.user_id).json()["generations"][0]["id"]
    )
    images = generation.object.generations_by_pk.generated_images  # type: ignore[union-attr]
    assert images is not None
    [listed] = images[0].generated_image_variation_generics or []
    assert listed.id == job.id and listed.transform_type == shared.VariationType.UPSCALE and listed.url


def test_background_removal_keeps_the_colours_and_adds_the_predicted_alpha(api: Api) -> None:
    sdk = sdk_for(api)
    image = generated_image(api)
    job = sdk.variation.create_variation_no_bg(request={"id": image["id"]}).object.sd_nobg_job  # type: ignore[union-attr]
    assert job is not None and job.id
    variation = wait_variation(api, job.id)
    assert variation["status"] == "COMPLETE" and variation["transformType"] == "NOBG"
    cut = picture_at(api, variation["url"])
    source = picture_at(api, image["url"])
    assert cut.mode == "RGBA" and cut.size == source.size
    pixels = np.asarray(cut)
    assert np.array_equal(pixels[..., :3], np.asarray(source.convert("RGB")))
    assert pixels[..., 3].std() > 0  # a prediction that varies, not a constant


def test_unzoom_frames_the_picture_unchanged_in_the_middle(api: Api) -> None:
    sdk = sdk_for(api)
    image = generated_image(api)
    job = sdk.variation.create_variation_unzoom(request={"id": image["id"]}).object.sd_unzoom_job  # type: ignore[union-attr]
    assert job is not None and job.id
    variation = wait_variation(api, job.id)
    assert variation["status"] == "COMPLETE", variation
    framed = np.asarray(picture_at(api, variation["url"]).convert("RGB"))
    source = np.asarray(picture_at(api, image["url"]).convert("RGB"))
    assert framed.shape == (96, 96, 3)
    assert np.array_equal(framed[16:80, 16:80], source)
    with api.ctx.db.read() as session:
        row = session.get(Variation, job.id)
        assert (
            row is not None and row.lineage["model_key"] == "tiny-sd15-inpainting"
        )  # the family's inpainter


def test_universal_upscaler_from_an_image_an_upload_and_a_variation(api: Api) -> None:
    sdk = sdk_for(api)
    image = generated_image(api)
    made = sdk.variation.create_universal_upscaler_job(
        request=operations.CreateUniversalUpscalerJobRequestBody(
            generated_image_id=image["id"], upscale_multiplier=1.5, creativity_strength=3,
            upscaler_style=shared.UniversalUpscalerStyle.CINEMATIC,
        )
    ).object.universal_upscaler  # type: ignore[union-attr]  # fmt: skip
    assert made is not None and made.id
    first = wait_variation(api, made.id)
    assert picture_at(api, first["url"]).size == (96, 96)

    init_id = upload(api, noise_png((40, 24)))
    from_upload = sdk.variation.create_universal_upscaler_job(
        request=operations.CreateUniversalUpscalerJobRequestBody(
            init_image_id=init_id, upscale_multiplier=2.0,
            ultra_upscale_style=shared.UniversalUpscalerUltraStyle.REALISTIC, similarity=8, detail_contrast=5,
        )
    ).object.universal_upscaler  # type: ignore[union-attr]  # fmt: skip
    assert from_upload is not None and from_upload.id
    assert picture_at(api, wait_variation(api, from_upload.id)["url"]).size == (80, 48)

    chained = sdk.variation.create_universal_upscaler_job(
        request=operations.CreateUniversalUpscalerJobRequestBody(
            variation_id=made.id, upscale_multiplier=1.25
        )
    ).object.universal_upscaler  # type: ignore[union-attr]
    assert chained is not None and chained.id
    assert picture_at(api, wait_variation(api, chained.id)["url"]).size == (120, 120)


def test_variation_of_a_variation(api: Api) -> None:
    sdk = sdk_for(api)
    image = generated_image(api)
    upscaled = sdk.variation.create_variation_upscale(request={"id": image["id"]}).object.sd_upscale_job  # type: ignore[union-attr]
    assert upscaled is not None and upscaled.id
    wait_variation(api, upscaled.id)
    cut = sdk.variation.create_variation_no_bg(
        request={"id": upscaled.id, "is_variation": True}
    ).object.sd_nobg_job  # type: ignore[union-attr]
    assert cut is not None and cut.id
    picture = picture_at(api, wait_variation(api, cut.id)["url"])
    assert picture.mode == "RGBA" and picture.size == (128, 128)


def test_a_variation_whose_source_vanished_fails_and_is_refunded(api: Api) -> None:
    image = generated_image(api)
    with api.ctx.db.read() as session:
        row = session.get(GeneratedImage, image["id"])
        assert row is not None
        key = row.blob_key
    api.ctx.blobs.delete(key)
    before = balance(api)
    response = api.post("/variations/nobg", json={"id": image["id"]})
    assert response.status_code == 200
    variation = wait_variation(api, response.json()["sdNobgJob"]["id"])
    assert variation["status"] == "FAILED" and "gone" in variation["failureReason"]
    assert balance(api) == before


def test_deleting_the_generation_deletes_its_variations(api: Api) -> None:
    image = generated_image(api)
    variation_id = api.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"]
    url = wait_variation(api, variation_id)["url"]
    generation_id = api.get("/generations/user/" + api.user_id).json()["generations"][0]["id"]
    assert api.delete(f"/generations/{generation_id}").status_code == 200
    assert api.get(f"/variations/{variation_id}").status_code == 404
    assert api.client.get(url).status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/variations/upscale", {"id": "no-such-image"}, 404, "No generated image"),
        ("/variations/nobg", {"id": "no-such-variation", "isVariation": True}, 404, "No variation"),
        ("/variations/unzoom", {}, 400, "id"),
        ("/variations/universal-upscaler", {}, 400, "exactly one"),
        ("/variations/universal-upscaler", {"generatedImageId": "a", "variationId": "b"}, 400, "exactly one"),
        (
            "/variations/universal-upscaler",
            {"generatedImageId": "a", "similarity": 5},
            400,
            "ultraUpscaleStyle",
        ),
        (
            "/variations/universal-upscaler",
            {"generatedImageId": "a", "upscaleMultiplier": 3},
            400,
            "upscaleMultiplier",
        ),
        ("/variations/universal-upscaler", {"initImageId": "nope"}, 400, "no init image"),
    ],
)
def test_bad_variation_requests_are_refused_clearly(
    database_url: str, tmp_path: Path, models_dir: Path, path: str, body: dict[str, Any], status: int,
    fragment: str,
) -> None:  # fmt: skip
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False) as api:
        before = balance(api)
        response = api.post(path, json=body)
        assert response.status_code == status, response.text
        assert set(response.json()) == {"error", "path", "code"} and fragment in response.json()["error"]
        assert balance(api) == before


def test_other_accounts_images_and_variations_are_invisible(api: Api) -> None:
    image = generated_image(api)
    variation_id = api.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"]
    key, _ = api.new_key("mallory")
    assert api.post("/variations/upscale", json={"id": image["id"]}, key=key).status_code == 404
    poor, poor_id = api.new_key("pauper", credits=0)
    own = generated_image(api)
    with api.ctx.db.transaction() as session:  # hand the picture to the poor account
        row = session.get(GeneratedImage, own["id"])
        assert row is not None
        row.generation.account_id = poor_id
    response = api.post("/variations/nobg", json={"id": own["id"]}, key=poor)
    assert response.status_code == 402 and response.json()["code"] == "insufficient-credits"
    assert api.get(f"/variations/{variation_id}", key=key).status_code == 404
    assert api.post("/variations/upscale", json={"id": image["id"]}, key="sfu_nope").status_code == 401


def test_pending_sources_oversized_results_and_absent_weights_are_refused(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir) as api:
        image = generated_image(api)
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False) as api:
        pending = api.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"]
        response = api.post("/variations/nobg", json={"id": pending, "isVariation": True})
        assert response.status_code == 400 and "PENDING" in response.json()["error"]
        api.ctx.settings.upload_max_pixels = 100 * 100
        response = api.post("/variations/upscale", json={"id": image["id"]})
        assert response.status_code == 400 and "128×128" in response.json()["error"]
    with canvas_app(
        database_url, tmp_path, models_dir, with_worker=False, upscaler="realesrgan-x4plus"
    ) as api:
        response = api.post("/variations/upscale", json={"id": image["id"]})
        assert response.status_code == 400 and response.json()["code"] == "model-unavailable"
        assert "RealESRGAN_x4plus.pth" in response.json()["error"]
        with api.ctx.db.read() as session:
            assert (
                session.query(Variation).count() == 1
                and session.query(Job).filter_by(kind="variation").count() == 1
            )


def test_a_variation_ends_with_a_webhook_event_naming_it(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir, webhook_allow_hosts="127.0.0.1/32") as api:
        issued = issue_key(api.ctx, username="hooked", webhook_url="http://127.0.0.1:9/hook")
        image = generated_image(api, key=issued.api_key)
        response = api.post("/variations/nobg", json={"id": image["id"]}, key=issued.api_key)
        variation_id = response.json()["sdNobgJob"]["id"]
        wait_variation(api, variation_id, key=issued.api_key)
        with api.ctx.db.read() as session:
            events = [(d.event_type, d.subject_id) for d in session.query(WebhookDelivery).all()]
        assert ("variation.complete", variation_id) in events


def test_variations_past_the_queue_depth_cap_get_429_and_are_not_charged(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    with canvas_app(database_url, tmp_path, models_dir) as api:
        image = generated_image(api)
    with canvas_app(database_url, tmp_path, models_dir, with_worker=False, max_queued_per_account=1) as api:
        assert api.post("/variations/upscale", json={"id": image["id"]}).status_code == 200
        before = balance(api)
        with api.ctx.db.read() as session:
            ledger = session.query(CreditEntry).count()
        for path, body in [
            ("/variations/upscale", {"id": image["id"]}),
            ("/variations/nobg", {"id": image["id"]}),
            ("/variations/unzoom", {"id": image["id"]}),
            ("/variations/universal-upscaler", {"generatedImageId": image["id"]}),
        ]:
            response = api.post(path, json=body)
            assert response.status_code == 429, (path, response.text)
            error = response.json()
            assert set(error) == {"error", "path", "code"} and error["code"] == "rate-limited"
            assert "1 jobs waiting" in error["error"] and "SFUMATO_MAX_QUEUED_PER_ACCOUNT" in error["error"]
        assert balance(api) == before
        with api.ctx.db.read() as session:
            assert session.query(CreditEntry).count() == ledger
            assert session.query(Variation).count() == 1
            assert session.query(Job).filter_by(kind="variation").count() == 1
