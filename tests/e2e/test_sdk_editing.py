"""Uploads, image-to-image and canvas inpainting through the official SDK, unchanged, against
a live `sfumato serve` on the local and on the S3 backend (moto on loopback)."""

from __future__ import annotations

import hashlib
import io
import json
import time

import httpx
import numpy as np
import pytest
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import errors, operations, shared
from PIL import Image

from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _noise(seed: int) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8))


def _post(url: str | None, fields: str | None, data: bytes) -> None:
    """The browser's part: the presigned form, the file last, no Authorization header."""
    assert url and fields
    response = httpx.post(url, data=json.loads(fields), files={"file": ("picture.png", data, "image/png")})
    assert response.status_code == 204, response.text


def _wait(sdk: LeonardoAiSDK, generation_id: str) -> operations.GetGenerationByIDGenerations:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        generation = sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk  # type: ignore[union-attr]
        assert generation is not None
        if generation.status != shared.JobStatus.PENDING:
            return generation
        time.sleep(0.1)
    raise AssertionError("generation did not finish")


def _pixels(generation: operations.GetGenerationByIDGenerations) -> np.ndarray:
    assert generation.status == shared.JobStatus.COMPLETE and generation.generated_images
    url = generation.generated_images[0].url
    assert url is not None
    response = httpx.get(url)
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def _create(sdk: LeonardoAiSDK, **fields: object) -> str:
    request = operations.CreateGenerationRequestBody(
        prompt="a harbour at night", model_id="tiny-sd15", width=64, height=64, num_images=1,
        num_inference_steps=10, seed=5, **fields,  # type: ignore[arg-type]
    )  # fmt: skip
    job = sdk.image.create_generation(request=request).object.sd_generation_job  # type: ignore[union-attr]
    assert job is not None and job.generation_id
    return job.generation_id


# The two deployment shapes: embedded (local blobs, SQLite) and scaled (S3, PostgreSQL). The
# API tests run every backend on every database; these live processes run each shape once.
@pytest.mark.parametrize(
    ("blob_backend", "database_url"), [("local", "sqlite"), ("s3", "postgresql")], indirect=True
)
def test_sdk_uploads_and_edits(processes: Processes, blob_backend: dict[str, str], database_url: str) -> None:
    processes.env.update(blob_backend)
    base = processes.serve()
    issued = processes.new_key("editor")
    sdk = LeonardoAiSDK(bearer_auth=issued["apiKey"], server_url=f"{base}/api/rest/v1")

    # Upload an init image, read it back, use it for image-to-image.
    source = _png(_noise(1))
    upload = sdk.init_images.upload_init_image(request={"extension": "png"}).object.upload_init_image  # type: ignore[union-attr]
    assert upload is not None and upload.id and upload.key
    _post(upload.url, upload.fields, source)
    stored = sdk.init_images.get_init_image_by_id(id=upload.id).object.init_images_by_pk  # type: ignore[union-attr]
    assert stored is not None and stored.url and httpx.get(stored.url).content == source

    edited = _wait(sdk, _create(sdk, init_image_id=upload.id, init_strength=0.4))
    assert edited.init_strength == 0.4 and _pixels(edited).shape == (64, 64, 3)

    # An image sfumato generated is a source too.
    assert edited.generated_images and edited.generated_images[0].id
    again = _wait(sdk, _create(sdk, init_generation_image_id=edited.generated_images[0].id))
    assert again.status == shared.JobStatus.COMPLETE

    # Canvas inpainting: the picture outside the mask is kept.
    canvas = sdk.init_images.upload_canvas_init_image(
        request={"init_extension": "png", "mask_extension": "png"}
    ).object.upload_canvas_init_image  # type: ignore[union-attr]
    assert canvas is not None and canvas.init_image_id and canvas.mask_image_id
    picture = _noise(2)
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    _post(canvas.init_url, canvas.init_fields, _png(picture))
    _post(canvas.mask_url, canvas.mask_fields, _png(mask))
    inpainted = _wait(
        sdk,
        _create(
            sdk,
            canvas_request=True,
            canvas_request_type=shared.CanvasRequestType.INPAINT,
            canvas_init_id=canvas.init_image_id,
            canvas_mask_id=canvas.mask_image_id,
        ),
    )
    difference = np.abs(_pixels(inpainted) - np.asarray(picture, dtype=np.int16)).mean(axis=2)
    assert difference[:, 32:].max() <= 1 and difference[:, :32].mean() > 20

    # Deleting the init image removes it; the generation made from it stays whole.
    deleted = sdk.init_images.delete_init_image_by_id(id=upload.id).object.delete_init_images_by_pk  # type: ignore[union-attr]
    assert deleted is not None and deleted.id == upload.id
    with pytest.raises(errors.LeonardoAiSDKError) as info:
        sdk.init_images.get_init_image_by_id(id=upload.id)
    assert info.value.status_code == 404
    kept = sdk.image.get_generation_by_id(id=edited.id or "").object.generations_by_pk  # type: ignore[union-attr]
    assert kept is not None and np.array_equal(_pixels(kept), _pixels(edited))
    headers = {"authorization": f"Bearer {issued['apiKey']}"}
    raw = httpx.get(f"{base}/api/rest/v1/generations/{edited.id}", headers=headers).json()
    assert raw["generations_by_pk"]["initImageId"] == upload.id
    assert raw["generations_by_pk"]["initImageSha256"] == hashlib.sha256(source).hexdigest()

    # A bad request is an error the SDK raises, not a half-made generation.
    with pytest.raises(errors.LeonardoAiSDKError) as info:
        _create(sdk, init_image_id=upload.id)
    assert info.value.status_code == 400
