"""The realtime canvas and variations through the official SDK, against live sfumato processes."""

from __future__ import annotations

import base64
import io
import time

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared
from PIL import Image

from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow

# A long realtime timeout: the first request waits for a worker process to start, and test
# machines are busy.
TINY = {"SFUMATO_REALTIME_MODEL": "tiny-lcm", "SFUMATO_UPSCALER": "tiny-esrgan",
        "SFUMATO_SEGMENTER": "tiny-mask2former", "SFUMATO_REALTIME_TIMEOUT_SECONDS": "180"}  # fmt: skip


def _data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _decoded(url: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def _noise(seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8))


def _sdk(processes: Processes, base: str) -> LeonardoAiSDK:
    issued = processes.new_key("canvas-user")
    return LeonardoAiSDK(bearer_auth=issued["apiKey"], server_url=f"{base}/api/rest/v1")


def _variation(sdk: LeonardoAiSDK, variation_id: str) -> Image.Image:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        found = sdk.variation.get_variation_by_id(id=variation_id).object.generated_image_variation_generic  # type: ignore[union-attr]
        assert found is not None
        if found[0].status != shared.JobStatus.PENDING:
            assert found[0].status == shared.JobStatus.COMPLETE and found[0].url
            response = httpx.get(found[0].url)  # a signed URL: no credentials
            assert response.status_code == 200
            return Image.open(io.BytesIO(response.content))
        time.sleep(0.1)
    raise AssertionError("variation did not finish")


@pytest.mark.databases("sqlite")  # the embedded shape; tests/api covers every operation on PostgreSQL too
def test_every_canvas_and_variation_operation_round_trips(processes: Processes) -> None:
    processes.env.update(TINY)
    sdk = _sdk(processes, processes.serve())
    canvas = _noise()
    common = {"prompt": "a lighthouse", "width": 64, "height": 64, "seed": 7}

    made = sdk.realtime_canvas.create_lcm_generation(request={"image_data_url": _data_url(canvas), **common})
    assert _decoded(made.object.lcm_generation_job.image_data_url[0]).size == (64, 64)  # type: ignore[union-attr,index]
    refined = sdk.realtime_canvas.perform_instant_refine(
        request={"image_data_url": _data_url(canvas), **common}
    )
    assert _decoded(refined.object.lcm_generation_job.image_data_url[0]).size == (64, 64)  # type: ignore[union-attr,index]
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    painted = sdk.realtime_canvas.perform_inpainting_lcm(
        request={
            "image_data_url": _data_url(canvas),
            "mask_data_url": _data_url(mask),
            "strength": 1.0,
            **common,
        }
    )
    pixels = np.asarray(_decoded(painted.object.lcm_generation_job.image_data_url[0]))  # type: ignore[union-attr,index]
    assert np.array_equal(pixels[:, 32:], np.asarray(canvas)[:, 32:])  # the unmasked half, pixel for pixel
    upscaled = sdk.realtime_canvas.perform_alchemy_upscale_lcm(
        request={"image_data_url": _data_url(canvas), **common}
    )
    assert _decoded(upscaled.object.lcm_generation_job.image_data_url[0]).size == (128, 128)  # type: ignore[union-attr,index]

    job = sdk.image.create_generation(
        request=operations.CreateGenerationRequestBody(
            prompt="a harbour",
            model_id="tiny-sd15",
            width=64,
            height=64,
            num_images=1,
            num_inference_steps=10,
        )
    ).object.sd_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id
    deadline = time.monotonic() + 90
    while (
        generation := sdk.image.get_generation_by_id(id=job.generation_id).object.generations_by_pk
    ).status == (  # type: ignore[union-attr]
        shared.JobStatus.PENDING
    ) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert generation is not None and generation.generated_images
    image_id = generation.generated_images[0].id
    assert image_id is not None

    up = sdk.variation.create_variation_upscale(request={"id": image_id}).object.sd_upscale_job  # type: ignore[union-attr]
    assert up is not None and up.id and _variation(sdk, up.id).size == (128, 128)
    cut = sdk.variation.create_variation_no_bg(request={"id": image_id}).object.sd_nobg_job  # type: ignore[union-attr]
    assert cut is not None and cut.id
    cut_picture = _variation(sdk, cut.id)
    assert cut_picture.mode == "RGBA" and cut_picture.size == (64, 64)
    zoom = sdk.variation.create_variation_unzoom(request={"id": image_id}).object.sd_unzoom_job  # type: ignore[union-attr]
    assert zoom is not None and zoom.id and _variation(sdk, zoom.id).size == (96, 96)
    universal = sdk.variation.create_universal_upscaler_job(
        request={"generated_image_id": image_id, "upscale_multiplier": 2.0}
    ).object.universal_upscaler  # type: ignore[union-attr]
    assert universal is not None and universal.id and _variation(sdk, universal.id).size == (128, 128)

    listed = sdk.image.get_generation_by_id(id=job.generation_id).object.generations_by_pk.generated_images[0]  # type: ignore[union-attr,index]
    kinds = sorted(
        str(v.transform_type.value)
        for v in listed.generated_image_variation_generics or []
        if v.transform_type
    )
    assert kinds == ["NOBG", "UNZOOM", "UPSCALE", "UPSCALE"]


@pytest.mark.databases("postgresql")  # the scaled shape; the embedded shape is the test above
def test_the_realtime_canvas_works_with_the_worker_on_another_process(processes: Processes) -> None:
    processes.env.update(TINY)
    base = processes.serve("--no-worker")
    processes.spawn("worker", "worker")
    sdk = _sdk(processes, base)
    made = sdk.realtime_canvas.create_lcm_generation(
        request={
            "image_data_url": _data_url(_noise()),
            "prompt": "a fox",
            "width": 64,
            "height": 64,
            "seed": 1,
        }
    )
    assert _decoded(made.object.lcm_generation_job.image_data_url[0]).size == (64, 64)  # type: ignore[union-attr,index]
