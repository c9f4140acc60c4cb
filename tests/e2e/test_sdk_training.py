"""The official SDK, unchanged, training against a live `sfumato serve`: dataset → custom model
and element → generations with them."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared
from PIL import Image

from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _until(read: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = read()
        if value.status != shared.JobStatus.PENDING:
            return value
        time.sleep(0.2)
    raise AssertionError("still PENDING")


def _pixels(sdk: LeonardoAiSDK, **fields: Any) -> np.ndarray:
    request = operations.CreateGenerationRequestBody(prompt="sks colours", width=64, height=64, num_images=1,
                                                     num_inference_steps=10, seed=77, **fields)  # fmt: skip
    generation_id = sdk.image.create_generation(request=request).object.sd_generation_job.generation_id  # type: ignore[union-attr]
    done = _until(lambda: sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk)  # type: ignore[union-attr]
    assert done.status == shared.JobStatus.COMPLETE
    return np.asarray(Image.open(io.BytesIO(httpx.get(done.generated_images[0].url).content)).convert("RGB"))


# Against `sfumato serve` in the embedded shape; tests/training runs every operation on
# PostgreSQL too, in process.
@pytest.mark.databases("sqlite")
def test_sdk_dataset_model_element_round_trip(processes: Processes) -> None:
    processes.env.update(
        SFUMATO_TRAINING_BASE_MODELS=json.dumps({"v1_5": "tiny-sd15", "FLUX_DEV": "tiny-sd15"}),
        SFUMATO_TRAINING_MAX_STEPS="8",
        SFUMATO_TRAINING_SUITE=json.dumps(["{instance}"]),
    )
    base = processes.serve()
    issued = processes.new_key("sdk-trainer")
    sdk = LeonardoAiSDK(bearer_auth=issued["apiKey"], server_url=f"{base}/api/rest/v1")

    dataset_id = sdk.dataset.create_dataset(
        request=operations.CreateDatasetRequestBody(name="colours")
    ).object.insert_datasets_one.id  # type: ignore[union-attr]
    for colour in ((220, 30, 30), (30, 200, 40), (20, 40, 210), (230, 220, 30)):
        form = sdk.dataset.upload_dataset_image(
            dataset_id=dataset_id, request_body={"extension": "png"}
        ).object.upload_dataset_image  # type: ignore[union-attr,arg-type]
        assert (
            httpx.post(
                form.url, data=json.loads(form.fields), files={"file": ("a.png", _png(colour))}
            ).status_code
            == 204
        )  # type: ignore[union-attr,arg-type]
    images = sdk.dataset.get_dataset_by_id(id=dataset_id).object.datasets_by_pk.dataset_images  # type: ignore[union-attr]
    assert images is not None and len(images) == 4

    model_id = sdk.models.create_model(request=operations.CreateModelRequestBody(
        name="colours", dataset_id=dataset_id, instance_prompt="sks colours", resolution=64,
    )).object.sd_training_job.custom_model_id  # type: ignore[union-attr]  # fmt: skip
    element_id = sdk.elements.create_element(request=operations.CreateElementRequestBody(
        dataset_id=dataset_id, name="colours", instance_prompt="sks colours", lora_focus="General",
        learning_rate=0.03, num_train_epochs=2, resolution=64,
    )).object.sd_training_job.user_lora_id  # type: ignore[union-attr]  # fmt: skip
    model = _until(lambda: sdk.models.get_model_by_id(id=model_id).object.custom_models_by_pk)  # type: ignore[union-attr,arg-type]
    element = _until(lambda: sdk.elements.get_element_by_id(id=element_id).object.user_loras_by_pk)  # type: ignore[union-attr,arg-type]
    assert model.status == element.status == shared.JobStatus.COMPLETE

    tiny = "25794347-ec1b-47e9-adfb-35122ee308ef"  # tiny-sd15's catalog id
    plain = _pixels(sdk, model_id=tiny)
    assert not (_pixels(sdk, model_id=model_id) == plain).all()
    with_element = _pixels(
        sdk, model_id=tiny, user_elements=[shared.UserElementsInput(user_lora_id=element_id, weight=1)]
    )
    at_zero = _pixels(
        sdk, model_id=tiny, user_elements=[shared.UserElementsInput(user_lora_id=element_id, weight=0)]
    )
    assert not (with_element == plain).all() and (at_zero == plain).all()
