"""Image-to-image and the canvas editor through the API, on the local and the S3 backend."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import numpy as np
from PIL import Image

from tests.api.conftest import Api
from tests.api.uploading import fetch, noise_png, png, post_form, request_upload, upload

EDIT = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10,
        "prompt": "a red fox", "seed": 11}  # fmt: skip


def _balance(api: Api) -> int:
    return int(api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"])


def _pixels(api: Api, generation: dict[str, Any]) -> np.ndarray:
    [image] = generation["generated_images"]
    response = fetch(api, image["url"])
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"), dtype=np.int16)


def _decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def _canvas(api: Api, picture: bytes, mask: bytes) -> tuple[str, str]:
    """Upload a canvas picture and its mask the way the canvas editor does."""
    response = api.post("/canvas-init-image", json={"initExtension": "png", "maskExtension": "png"})
    body = response.json()["uploadCanvasInitImage"]
    for prefix, data in (("init", picture), ("mask", mask)):
        fields = json.loads(body[f"{prefix}Fields"])
        assert post_form(api, body[f"{prefix}Url"], fields, data).status_code == 204
    return body["initImageId"], body["maskImageId"]


def _center_mask() -> bytes:
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_to_image_from_an_upload(backend_api: Api) -> None:
    api = backend_api
    source = noise_png(seed=1)
    image_id = upload(api, source)
    generation = api.wait(api.generate(**EDIT, init_image_id=image_id, init_strength=0.3))
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    assert generation["imageToImage"] is True and generation["initImageId"] == image_id
    assert generation["initStrength"] == 0.3 and "canvasRequestType" not in generation
    assert generation["initImageSha256"] == hashlib.sha256(source).hexdigest()
    first = _pixels(api, generation)
    assert first.shape == (64, 64, 3)

    other = api.wait(api.generate(**EDIT, init_image_id=upload(api, noise_png(seed=2)), init_strength=0.3))
    assert not np.array_equal(first, _pixels(api, other))  # the picture steers the result


def test_image_to_image_from_a_generated_image(backend_api: Api) -> None:
    api = backend_api
    made = api.wait(api.generate(**EDIT))
    [image] = made["generated_images"]
    generation = api.wait(api.generate(**EDIT, init_generation_image_id=image["id"]))
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    assert generation["initGeneratedImageId"] == image["id"] and generation["initStrength"] == 0.5
    source = fetch(api, image["url"]).content
    assert generation["initImageSha256"] == hashlib.sha256(source).hexdigest()


def test_inpainting_keeps_the_unmasked_pixels(backend_api: Api) -> None:
    api = backend_api
    picture = noise_png(seed=3)
    init_id, mask_id = _canvas(api, picture, _center_mask())
    generation = api.wait(api.generate(**EDIT, canvasRequest=True, canvasRequestType="INPAINT",
                                       canvasInitId=init_id, canvasMaskId=mask_id))  # fmt: skip
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    assert generation["canvasRequest"] is True and generation["canvasRequestType"] == "INPAINT"
    assert generation["canvasInitImageId"] == init_id and generation["canvasMaskImageId"] == mask_id
    difference = np.abs(_pixels(api, generation) - _decoded(picture)).mean(axis=2)
    inside = _decoded(_center_mask())[:, :, 0] == 255
    assert difference[~inside].max() <= 1  # unmasked: the picture itself
    assert difference[inside].mean() > 20  # masked: repainted


def test_outpainting_fills_the_transparent_frame(backend_api: Api) -> None:
    api = backend_api
    canvas = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    inner = Image.open(io.BytesIO(noise_png((32, 32), seed=4))).convert("RGBA")
    canvas.paste(inner, (16, 16))
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    no_mask = png(color=0, mode="L")  # all black: only the transparent frame is repainted
    init_id, mask_id = _canvas(api, buffer.getvalue(), no_mask)
    generation = api.wait(api.generate(**EDIT, canvasRequest=True, canvasRequestType="OUTPAINT",
                                       canvasInitId=init_id, canvasMaskId=mask_id))  # fmt: skip
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    out = _pixels(api, generation)
    assert np.array_equal(out[16:48, 16:48], np.asarray(inner.convert("RGB"), dtype=np.int16))
    assert out[:16].std() > 5  # the frame is painted, not a flat fill


def test_canvas_img2img_changes_only_the_masked_area(backend_api: Api) -> None:
    api = backend_api
    picture = noise_png(seed=5)
    init_id, mask_id = _canvas(api, picture, _center_mask())
    generation = api.wait(api.generate(**EDIT, canvasRequest=True, canvasRequestType="IMG2IMG",
                                       canvasInitId=init_id, canvasMaskId=mask_id,
                                       init_strength=0.2))  # fmt: skip
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    difference = np.abs(_pixels(api, generation) - _decoded(picture)).mean(axis=2)
    inside = _decoded(_center_mask())[:, :, 0] == 255
    assert difference[~inside].max() == 0 and difference[inside].mean() > 5


def test_deleting_the_source_keeps_the_generation(backend_api: Api) -> None:
    api = backend_api
    source = noise_png(seed=6)
    ticket = request_upload(api)
    assert post_form(api, ticket["url"], ticket["fields"], source).status_code == 204
    generation = api.wait(api.generate(**EDIT, init_image_id=ticket["id"]))
    assert generation["status"] == "COMPLETE"
    assert api.delete(f"/init-image/{ticket['id']}").status_code == 200
    assert not api.ctx.blobs.exists(ticket["key"])
    again = api.get(f"/generations/{generation['id']}").json()["generations_by_pk"]
    assert again["initImageId"] == ticket["id"]
    assert again["initImageSha256"] == hashlib.sha256(source).hexdigest()
    assert np.array_equal(_pixels(api, again), _pixels(api, generation))
    input_key = f"generations/{generation['id']}/input/init.png"
    assert api.ctx.blobs.exists(input_key)
    assert api.delete(f"/generations/{generation['id']}").status_code == 200
    assert not api.ctx.blobs.exists(input_key)


def test_a_bad_file_is_refused_when_used(backend_api: Api) -> None:
    """S3 cannot check an upload's content; sfumato checks every image when it is used."""
    api = backend_api
    ticket = request_upload(api)
    response = post_form(api, ticket["url"], ticket["fields"], b"not an image at all")
    # The local backend refuses the file at once; a bucket takes it (moto checks nothing).
    assert response.status_code == (400 if api.ctx.settings.blob_backend == "local" else 204)
    api.ctx.blobs.put(ticket["key"], b"not an image at all", "image/png")
    before = _balance(api)
    refused = api.post("/generations", json={**EDIT, "init_image_id": ticket["id"]})
    assert refused.status_code == 400 and "not a PNG, JPEG or WebP" in refused.json()["error"]
    api.ctx.blobs.put(ticket["key"], noise_png((128, 128)), "image/png")
    api.ctx.settings.upload_max_bytes = 1000
    oversized = api.post("/generations", json={**EDIT, "init_image_id": ticket["id"]})
    assert oversized.status_code == 400 and "larger than 1000 bytes" in oversized.json()["error"]
    assert _balance(api) == before
    assert api.get(f"/generations/user/{api.user_id}").json()["generations"] == []
