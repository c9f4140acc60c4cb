"""The official Leonardo Python SDK, unchanged, against a live `sfumato serve`."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared
from PIL import Image

from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow


def _wait(
    sdk: LeonardoAiSDK, generation_id: str, timeout: float = 90
) -> operations.GetGenerationByIDGenerations:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        generation = sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk  # type: ignore[union-attr]
        assert generation is not None
        if generation.status != shared.JobStatus.PENDING:
            return generation
        time.sleep(0.1)
    raise AssertionError("generation did not finish")


def test_sdk_text_to_image_round_trip(processes: Processes) -> None:
    base = processes.serve()
    issued = processes.new_key("sdk-user")
    sdk = LeonardoAiSDK(bearer_auth=issued["apiKey"], server_url=f"{base}/api/rest/v1")

    models = sdk.models.list_platform_models().object.custom_models  # type: ignore[union-attr]
    assert models is not None
    tiny = next(m for m in models if m.name and "tiny" in m.name.lower() and "1.5" in m.name)

    me = sdk.user.get_user_self().object.user_details[0]  # type: ignore[union-attr,index]
    assert me.user is not None and me.user.id == issued["userId"]
    balance = me.api_subscription_tokens
    assert balance is not None and balance > 0

    created = sdk.image.create_generation(
        request=operations.CreateGenerationRequestBody(
            prompt="a lighthouse at dusk",
            negative_prompt="fog",
            model_id=tiny.id,
            width=64,
            height=64,
            num_images=2,
            num_inference_steps=10,
            guidance_scale=7,
            seed=1234,
            scheduler=shared.SdGenerationSchedulers.EULER_DISCRETE,
            preset_style=shared.SdGenerationStyle.CINEMATIC,
            tiling=False,
            alchemy=True,
        )
    )
    job = created.object.sd_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id and job.api_credit_cost and job.api_credit_cost > 0

    generation = _wait(sdk, job.generation_id)
    assert generation.status == shared.JobStatus.COMPLETE
    assert generation.seed == 1234 and generation.image_width == 64
    assert generation.preset_style == shared.SdGenerationStyle.CINEMATIC
    assert generation.scheduler == shared.SdGenerationSchedulers.EULER_DISCRETE
    assert generation.generated_images is not None and len(generation.generated_images) == 2
    pixels = []
    for image in generation.generated_images:
        assert image.url is not None and image.url.startswith(base)
        response = httpx.get(image.url)  # no credentials: the URL itself is the permission
        assert response.status_code == 200
        picture = Image.open(io.BytesIO(response.content))
        assert picture.format == "PNG" and picture.size == (64, 64)
        pixels.append(np.asarray(picture))
    assert not np.array_equal(pixels[0], pixels[1])

    after = sdk.user.get_user_self().object.user_details[0].api_subscription_tokens  # type: ignore[union-attr,index]
    assert after == balance - job.api_credit_cost

    listing = sdk.image.get_generations_by_user_id(user_id=issued["userId"], offset=0, limit=10)
    generations = listing.object.generations  # type: ignore[union-attr]
    assert generations is not None and [g.id for g in generations] == [job.generation_id]
    assert generations[0].generated_images and generations[0].generated_images[0].url

    deleted = sdk.image.delete_generation_by_id(id=job.generation_id)
    assert deleted.object.delete_generations_by_pk.id == job.generation_id  # type: ignore[union-attr]
    empty = sdk.image.get_generations_by_user_id(user_id=issued["userId"]).object.generations  # type: ignore[union-attr]
    assert empty == []


def test_sdk_sees_errors_as_errors(processes: Processes) -> None:
    from leonardo_ai_sdk.models import errors

    base = processes.serve()
    issued = processes.new_key("sdk-errors")
    sdk = LeonardoAiSDK(bearer_auth=issued["apiKey"], server_url=f"{base}/api/rest/v1")
    with pytest.raises(errors.LeonardoAiSDKError) as info:
        sdk.image.create_generation(
            request=operations.CreateGenerationRequestBody(model_id="tiny-sd15", width=36)
        )
    assert info.value.status_code == 400
    with pytest.raises(errors.LeonardoAiSDKError) as info:
        sdk.image.get_generation_by_id(id="00000000-0000-0000-0000-000000000000")
    assert info.value.status_code == 404
    wrong = LeonardoAiSDK(bearer_auth="sfu_wrong", server_url=f"{base}/api/rest/v1")
    with pytest.raises(errors.LeonardoAiSDKError) as info:
        wrong.user.get_user_self()
    assert info.value.status_code == 401
