"""Today's image families through the API and the official SDK: FLUX.1, SD 3.5, Qwen-Image,
SDXL-Lightning — what each draws, what each refuses, how each is listed and priced."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from leonardo_ai_sdk.models import errors, operations, shared
from PIL import Image

from tests.api.conftest import Api
from tests.api.sdk import sdk_for
from tests.api.uploading import fetch, noise_png, upload

pytestmark = pytest.mark.databases("sqlite")

# Each tiny family with the guidance its model card uses; a negative prompt where it takes one.
FAMILIES: dict[str, dict[str, Any]] = {
    "tiny-flux-schnell": {},
    "tiny-flux-dev": {"guidance_scale": 3.5},
    "tiny-sd3": {"guidance_scale": 4.5, "negative_prompt": "fog"},
    "tiny-qwen-image": {"guidance_scale": 4.0, "negative_prompt": "fog"},
    "tiny-sdxl-lightning": {"guidance_scale": 1.0},
}
FLUX_SCHNELL_ID = "1dd50843-d653-4516-a8e3-f0238ee453ff"  # Leonardo's Flux Schnell
PHOENIX_ID = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"  # Leonardo Phoenix 1.0


def _balance(api: Api) -> int:
    return int(api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"])


def _pixels(api: Api, url: str) -> np.ndarray:
    response = fetch(api, url)
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def test_every_family_draws_through_the_sdk(api: Api) -> None:
    sdk = sdk_for(api)
    listed = sdk.models.list_platform_models().object.custom_models  # type: ignore[union-attr]
    assert listed is not None
    ids = {model.name: model.id for model in listed}
    for key, extra in FAMILIES.items():
        entry = api.ctx.catalog.resolve(key)
        assert entry is not None and ids[entry.name] == entry.id
        created = sdk.image.create_generation(
            request=operations.CreateGenerationRequestBody(
                prompt="a lighthouse at dusk", model_id=entry.id, width=64, height=64, num_images=2,
                num_inference_steps=4, seed=99, **extra,
            )
        ).object  # fmt: skip
        assert created is not None and created.sd_generation_job is not None
        job = created.sd_generation_job
        assert job.generation_id and job.api_credit_cost and job.api_credit_cost > 0
        api.wait(job.generation_id)
        generation = sdk.image.get_generation_by_id(id=job.generation_id).object.generations_by_pk  # type: ignore[union-attr]
        assert generation is not None and generation.status == shared.JobStatus.COMPLETE, key
        assert generation.seed == 99 and generation.generated_images is not None
        pictures = [_pixels(api, image.url) for image in generation.generated_images if image.url]
        assert [p.shape for p in pictures] == [(64, 64, 3)] * 2, key
        assert not np.array_equal(pictures[0], pictures[1]), key  # seeds 99 and 100


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"modelId": "tiny-flux-dev", "negative_prompt": "fog"}, "take no negative_prompt"),
        ({"modelId": "tiny-flux-schnell", "guidance_scale": 7}, "take no guidance_scale"),
        ({"modelId": "tiny-sd3", "width": 72}, "multiple of 16"),
        ({"modelId": "tiny-qwen-image", "scheduler": "DDIM"}, "own flow-matching scheduler"),
        ({"modelId": "tiny-flux-dev", "tiling": True}, "tiling"),
        ({"modelId": "tiny-flux-schnell", "num_inference_steps": 12}, "at most 8"),
    ],
)
def test_what_a_family_cannot_take_is_a_400_that_charges_nothing(
    api: Api, body: dict[str, Any], message: str
) -> None:
    before = _balance(api)
    response = api.post("/generations", json={"prompt": "a red fox", "width": 64, "height": 64, **body})
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]
    assert _balance(api) == before


def test_the_sdk_sees_a_refused_negative_prompt_as_an_error(api: Api) -> None:
    sdk = sdk_for(api)
    with pytest.raises(errors.LeonardoAiSDKError) as info:
        sdk.image.create_generation(
            request=operations.CreateGenerationRequestBody(
                prompt="a red fox", model_id="tiny-flux-dev", negative_prompt="fog", width=64, height=64
            )
        )
    assert info.value.status_code == 400 and "negative_prompt" in info.value.body


def test_a_preset_style_s_negative_words_are_dropped_for_flux(api: Api) -> None:
    # Styles add negative words; FLUX has no negative pass to give them, so they go unsaid
    # rather than failing a request that names none.
    generation = api.wait(api.generate(modelId="tiny-flux-schnell", presetStyle="CINEMATIC",
                                       num_inference_steps=4))  # fmt: skip
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    assert generation.get("scheduler") is None  # its own sampler: no Leonardo scheduler name


@pytest.mark.parametrize("key", ["tiny-flux-dev", "tiny-sd3", "tiny-qwen-image"])
def test_image_to_image_and_inpainting(api: Api, key: str) -> None:
    extra = {k: v for k, v in FAMILIES[key].items() if k == "guidance_scale"}
    common = {"modelId": key, "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 4,
              "prompt": "a red fox", "seed": 5, **extra}  # fmt: skip
    source = noise_png(seed=1)
    edited = api.wait(api.generate(**common, init_image_id=upload(api, source), init_strength=0.5))
    assert edited["status"] == "COMPLETE", edited.get("failureReason")
    [image] = edited["generated_images"]
    assert _pixels(api, image["url"]).shape == (64, 64, 3)

    from tests.api.test_image_editing import _canvas, _center_mask, _decoded

    init_id, mask_id = _canvas(api, source, _center_mask())
    painted = api.wait(api.generate(**common, canvasRequest=True, canvasRequestType="INPAINT",
                                    canvasInitId=init_id, canvasMaskId=mask_id))  # fmt: skip
    assert painted["status"] == "COMPLETE", painted.get("failureReason")
    [image] = painted["generated_images"]
    difference = np.abs(_pixels(api, image["url"]) - _decoded(source)).mean(axis=2)
    inside = _decoded(_center_mask())[:, :, 0] == 255
    assert difference[~inside].max() <= 1 and difference[inside].mean() > 20


def test_platform_models_list_todays_families(api: Api) -> None:
    models = {m["id"]: m for m in api.get("/platformModels").json()["custom_models"]}
    by_key = {m["key"]: m for m in models.values()}
    assert by_key["flux-dev"]["sdVersion"] == "FLUX_DEV" and by_key["flux-schnell"]["sdVersion"] == "FLUX"
    assert by_key["sd35-large"]["sdVersion"] == "v3"
    assert "sdVersion" not in by_key["qwen-image"]  # Leonardo has no value for it
    assert by_key["flux-dev"]["ready"] is False
    assert "sfumato models pull flux-dev" in by_key["flux-dev"]["howToObtain"]
    assert by_key["tiny-flux-schnell"]["ready"] is True


def test_leonardo_flux_and_phoenix_ids_are_aliases(api: Api) -> None:
    # Without weights on this machine the alias is refused with how to get them, uncharged.
    before = _balance(api)
    for model_id, key in ((FLUX_SCHNELL_ID, "flux-schnell"), (PHOENIX_ID, "flux-dev")):
        response = api.post("/generations", json={"prompt": "a red fox", "modelId": model_id})
        assert response.status_code == 400
        assert f"sfumato models pull {key}" in response.json()["error"]
    assert _balance(api) == before


def test_flags_price_the_model_their_leonardo_id_maps_to(api: Api) -> None:
    for flag, key in (("isFluxSchnell", "flux-schnell"), ("isFluxDev", "flux-dev"), ("isPhoenix", "flux-dev"),
                      ("isFluxKontext", "flux-kontext"), ("isSDXLLightning", "sdxl-lightning")):  # fmt: skip
        quote = api.post("/pricing-calculator", json={
            "service": "IMAGE_GENERATION",
            "serviceParams": {"IMAGE_GENERATION": {flag: True, "numImages": 1}},
        }).json()["calculateProductionApiServiceCost"]["cost"]  # fmt: skip
        entry = api.ctx.catalog.resolve(key)
        assert entry is not None
        charge = api.ctx.pricing.image_generation(family=entry.family, width=entry.default_width,
                                                  height=entry.default_height, steps=entry.default_steps,
                                                  num_images=1)  # fmt: skip
        assert quote == charge, flag
    schnell = api.ctx.pricing.image_generation(family="flux-schnell", width=1024, height=1024, steps=4,
                                               num_images=1)  # fmt: skip
    dev = api.ctx.pricing.image_generation(family="flux-dev", width=1024, height=1024, steps=28, num_images=1)
    assert dev > schnell


def test_kontext_edits_an_upload_by_instruction_and_does_not_inpaint(api: Api) -> None:
    common = {"modelId": "tiny-flux-kontext", "width": 64, "height": 64, "num_images": 1,
              "num_inference_steps": 4, "prompt": "make the sky stormy", "seed": 5}  # fmt: skip
    source = noise_png(seed=2)
    edited = api.wait(api.generate(**common, init_image_id=upload(api, source)))
    assert edited["status"] == "COMPLETE", edited.get("failureReason")
    assert edited["imageToImage"] is True

    from tests.api.test_image_editing import _canvas, _center_mask

    init_id, mask_id = _canvas(api, source, _center_mask())
    before = _balance(api)
    response = api.post("/generations", json={**common, "canvasRequest": True, "canvasRequestType": "INPAINT",
                                              "canvasInitId": init_id, "canvasMaskId": mask_id})  # fmt: skip
    assert response.status_code == 400 and "by instruction" in response.json()["error"]
    assert _balance(api) == before


@pytest.mark.parametrize("key", ["tiny-flux-dev", "tiny-qwen-image"])
def test_a_generation_s_lineage_replays_it_pixel_for_pixel(api: Api, key: str) -> None:
    from tests.api.test_replay import _replayed

    original = api.wait(api.generate(modelId=key, num_images=2, seed=4321, num_inference_steps=4))
    assert original["status"] == "COMPLETE", original.get("failureReason")
    lineage = original["lineage"]
    assert lineage["modelKey"] == key and lineage["scheduler"] == "FlowMatchEulerDiscreteScheduler"
    assert lineage["seeds"] == [4321, 4322] and lineage["batchSize"] == 2
    replay, report = _replayed(api, original["id"])
    assert report["identical"] is True and [i["identical"] for i in report["images"]] == [True, True]
    assert replay["lineage"]["imageSha256"] == lineage["imageSha256"]
