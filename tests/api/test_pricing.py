"""One price table: the calculator's quote is what the job charges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from leonardo_ai_sdk.models import operations, shared

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.store import credits
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for

ALL_SERVICES = list(shared.PricingCalculatorServices)


def _quote(api: Api, service: str, params: dict[str, Any] | None = None) -> int:
    body: dict[str, Any] = {"service": service}
    if params is not None:
        body["serviceParams"] = {service: params}
    response = api.post("/pricing-calculator", json=body)
    assert response.status_code == 200, response.text
    return int(response.json()["calculateProductionApiServiceCost"]["cost"])


def _charge(api: Api, **body: Any) -> int:
    """What a job is charged; the job is then deleted, so the worker has nothing big to run."""
    response = api.post("/generations", json={"prompt": "a red fox", **body})
    assert response.status_code == 200, response.text
    job = response.json()["sdGenerationJob"]
    api.delete(f"/generations/{job['generationId']}")
    return int(job["apiCreditCost"])


QUOTE_AND_JOB = [
        ({"modelId": "tiny-sd15", "imageWidth": 64, "imageHeight": 64, "inferenceSteps": 10, "numImages": 1},
         {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_inference_steps": 10, "num_images": 1}),
        ({"modelId": "tiny-sd15", "imageWidth": 512, "imageHeight": 384, "inferenceSteps": 30,
          "numImages": 3},
         {"modelId": "tiny-sd15", "width": 512, "height": 384, "num_inference_steps": 30, "num_images": 3}),
        # omitted parameters are filled in as the job fills them: model defaults, four images
        ({"modelId": "tiny-sdxl"}, {"modelId": "tiny-sdxl"}),
        # a family flag prices like the family's models (sizes and steps given: models differ in defaults)
        ({"isSDXL": True, "imageWidth": 128, "imageHeight": 96, "inferenceSteps": 20, "numImages": 2},
         {"modelId": "tiny-sdxl", "width": 128, "height": 96, "num_inference_steps": 20, "num_images": 2}),
]  # fmt: skip


def test_image_generation_quote_equals_the_charge(api: Api) -> None:
    for params, body in QUOTE_AND_JOB:
        quoted = _quote(api, "IMAGE_GENERATION", params)
        job = api.post("/generations", json={"prompt": "a red fox", **body}).json()["sdGenerationJob"]
        charged = job["apiCreditCost"]
        assert quoted == charged > 0, params
        with api.ctx.db.read() as session:
            entries = credits.entries_for(session, subject_id=job["generationId"])
            assert [e.amount for e in entries if e.kind == "debit"] == [-charged]
        api.delete(f"/generations/{job['generationId']}")


def test_quote_equals_charge_through_the_sdk(api: Api) -> None:
    sdk = sdk_for(api)
    quote = sdk.pricing_calculator.pricing_calculator(
        request=operations.PricingCalculatorRequestBody(
            service=shared.PricingCalculatorServices.IMAGE_GENERATION,
            service_params=operations.PricingCalculatorObject(
                image_generation=operations.PricingCalculatorPricingCalculatorRequestObject(
                    is_sdxl=True, image_width=64, image_height=64, num_images=2, inference_steps=12
                )
            ),
        )
    ).object
    assert quote is not None and quote.calculate_production_api_service_cost is not None
    job = sdk.image.create_generation(
        request=operations.CreateGenerationRequestBody(
            prompt="a lighthouse", model_id="tiny-sdxl", width=64, height=64, num_images=2,
            num_inference_steps=12,
        )
    ).object  # fmt: skip
    assert job is not None and job.sd_generation_job is not None
    assert quote.calculate_production_api_service_cost.cost == job.sd_generation_job.api_credit_cost


def test_every_sdk_service_has_a_price(api: Api) -> None:
    sdk = sdk_for(api)
    for service in ALL_SERVICES:
        request = operations.PricingCalculatorRequestBody(service=service)
        result = sdk.pricing_calculator.pricing_calculator(request=request).object
        assert result is not None and result.calculate_production_api_service_cost is not None
        cost = result.calculate_production_api_service_cost.cost
        assert isinstance(cost, int) and cost > 0, service


def test_parameters_move_the_price(api: Api) -> None:
    assert _quote(api, "IMAGE_GENERATION", {"modelId": "tiny-sd15", "numImages": 4}) == 4 * _quote(
        api, "IMAGE_GENERATION", {"modelId": "tiny-sd15", "numImages": 1}
    )
    assert _quote(api, "IMAGE_GENERATION", {"isSDXL": True, "numImages": 1}) > _quote(
        api, "IMAGE_GENERATION", {"isSDXLLightning": True, "numImages": 1}
    )
    assert _quote(api, "MOTION_VIDEO_GENERATION", {"resolution": "RESOLUTION_720"}) > _quote(
        api, "MOTION_VIDEO_GENERATION", {"resolution": "RESOLUTION_480"}
    )
    assert _quote(api, "UNIVERSAL_UPSCALER", {"megapixel": 8}) > _quote(
        api, "UNIVERSAL_UPSCALER", {"megapixel": 1}
    )
    assert _quote(api, "UNIVERSAL_UPSCALER_ULTRA", {"inputWidth": 1024, "inputHeight": 1024,
                                                    "upscaleMultiplier": 2.0}) > _quote(
        api, "UNIVERSAL_UPSCALER_ULTRA", {"inputWidth": 512, "inputHeight": 512, "upscaleMultiplier": 1.0}
    )  # fmt: skip
    assert _quote(api, "TEXTURE_GENERATION", {"preview": True}) < _quote(
        api, "TEXTURE_GENERATION", {"preview": False}
    )
    assert _quote(api, "MODEL_TRAINING", {"resolution": 1024}) > _quote(
        api, "MODEL_TRAINING", {"resolution": 512}
    )
    # Any resolution training takes is quoted, as the next of Leonardo's three, as it is charged.
    assert _quote(api, "MODEL_TRAINING", {"resolution": 64}) == _quote(
        api, "MODEL_TRAINING", {"resolution": 512}
    )
    assert _quote(api, "MODEL_TRAINING", {"resolution": 600}) == _quote(
        api, "MODEL_TRAINING", {"resolution": 768}
    )
    assert _quote(api, "LCM_GENERATION", {"width": 1024, "height": 1024, "refine": True}) > _quote(
        api, "LCM_GENERATION", {"width": 512, "height": 512}
    )


BAD_QUOTES = [
        ({}, "service is required"),
        ({"service": "PAINTING"}, "service"),
        ({"service": "IMAGE_GENERATION", "serviceParams": {"IMAGE_GENERATION": {"modelId": "nope"}}},
         "Unknown modelId"),
        ({"service": "IMAGE_GENERATION", "serviceParams": {"IMAGE_GENERATION": {"numImages": 0}}},
         "numImages"),
        ({"service": "MOTION_VIDEO_GENERATION", "serviceParams": {"MOTION_VIDEO_GENERATION":
                                                                  {"resolution": "RESOLUTION_8K"}}},
         "resolution must be one of"),
        ({"service": "MODEL_TRAINING", "serviceParams": {"MODEL_TRAINING": {"resolution": 1100}}},
         "multiple of 8 from 64 to 1024"),
        ({"service": "UNIVERSAL_UPSCALER_ULTRA", "serviceParams": {"UNIVERSAL_UPSCALER_ULTRA":
                                                                   {"upscaleMultiplier": 3}}},
         "upscaleMultiplier"),
        ({"service": "UNIVERSAL_UPSCALER", "serviceParams": {"UNIVERSAL_UPSCALER": {"megapixel": 50}}},
         "megapixel"),
]  # fmt: skip


def test_bad_quotes_are_400(api: Api) -> None:
    for body, fragment in BAD_QUOTES:
        response = api.post("/pricing-calculator", json=body)
        assert response.status_code == 400, response.text
        assert fragment in response.json()["error"], response.text
        assert response.json()["code"] == "invalid-request"


def test_quote_needs_a_key(api: Api) -> None:
    response = api.client.post("/api/rest/v1/pricing-calculator", json={"service": "IMAGE_GENERATION"})
    assert response.status_code == 401


def test_operator_prices_drive_quotes_and_charges(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("[image_generation.family_credits]\nsd15 = 50\n")
    settings = make_settings(database_url, tmp_path, models_dir, pricing_file=prices)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
        issued = issue_key(ctx, username="erin")
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        params = {"modelId": "tiny-sd15", "imageWidth": 512, "imageHeight": 512, "inferenceSteps": 15,
                  "numImages": 1}  # fmt: skip
        assert _quote(api, "IMAGE_GENERATION", params) == 50
        assert (
            _charge(api, modelId="tiny-sd15", width=512, height=512, num_inference_steps=15, num_images=1)
            == 50
        )


def test_realtime_and_upscaler_quotes_equal_their_charges(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    from tests.api.canvas import canvas_app, data_url, noise

    with canvas_app(database_url, tmp_path, models_dir) as api:
        # 512 px, the realtime canvas's reference size: a plain and a refined picture cost differently
        picture = data_url(noise(512, 512))
        lcm = {"imageDataUrl": picture, "prompt": "a lighthouse", "width": 512, "height": 512}
        for path, params in [
            ("/generations-lcm", {"width": 512, "height": 512}),
            ("/lcm-instant-refine", {"width": 512, "height": 512, "instantRefine": True}),
        ]:
            before = api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"]
            response = api.post(path, json=lcm)
            assert response.status_code == 200, response.text
            charged = before - api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"]
            assert charged == _quote(api, "LCM_GENERATION", params) > 0, path

        image = api.wait(api.generate())["generated_images"][0]
        for body, service, params in [
            ({"upscaleMultiplier": 1.5}, "UNIVERSAL_UPSCALER", {"megapixel": 1}),
            ({"upscaleMultiplier": 1.5, "ultraUpscaleStyle": "REALISTIC"}, "UNIVERSAL_UPSCALER_ULTRA",
             {"inputWidth": 64, "inputHeight": 64, "upscaleMultiplier": 1.5}),
        ]:  # fmt: skip
            response = api.post(
                "/variations/universal-upscaler", json={"generatedImageId": image["id"], **body}
            )
            assert response.status_code == 200, response.text
            charged = response.json()["universalUpscaler"]["apiCreditCost"]
            assert charged == _quote(api, service, params) > 0, service
