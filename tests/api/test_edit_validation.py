"""Every way an edit request can be wrong is a 400 in Leonardo's shape, and changes nothing."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.api.conftest import Api
from tests.api.test_image_editing import EDIT, _balance, _canvas, _center_mask
from tests.api.uploading import noise_png, request_upload, upload


def _refused(api: Api, body: dict[str, Any], fragment: str, key: str | None = None) -> None:
    before = _balance(api)
    response = api.post("/generations", json={**EDIT, **body}, key=key)
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) == {"error", "path", "code"} and fragment in error["error"], error
    assert _balance(api) == before
    assert api.get(f"/generations/user/{api.user_id}").json()["generations"] == []


def test_unknown_missing_and_foreign_images(api: Api) -> None:
    _refused(api, {"init_image_id": "00000000-0000-0000-0000-000000000000"}, "no init image")
    pending = request_upload(api)["id"]
    _refused(api, {"init_image_id": pending}, "has no file yet")
    mallory, _ = api.new_key("mallory")
    theirs = upload(api, noise_png(), key=mallory)
    _refused(api, {"init_image_id": theirs}, "no init image")
    their_generation = api.wait(api.generate(key=mallory), key=mallory)
    [their_image] = their_generation["generated_images"]
    _refused(api, {"init_generation_image_id": their_image["id"]}, "no generated image")


SHAPE_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"init_strength": 0.5}, "init_strength needs"),
    ({"init_strength": 0.95, "init_image_id": "x"}, "init_strength"),
    ({"init_image_id": "a", "init_generation_image_id": "b"}, "not both"),
    ({"canvasInitId": "a"}, "need canvasRequest: true"),
    ({"canvasRequest": True, "canvasInitId": "a"}, "canvasRequestType must be one of"),
    ({"canvasRequest": True, "canvasRequestType": "INPAINT"}, "canvasInitId is required"),
    ({"canvasRequest": True, "canvasRequestType": "INPAINT", "canvasInitId": "a"},
     "canvasMaskId is required"),
    ({"canvasRequest": True, "canvasRequestType": "ERASE", "canvasInitId": "a"}, "canvasRequestType"),
    ({"canvasRequest": True, "canvasRequestType": "IMG2IMG", "canvasInitId": "a", "init_image_id": "b"},
     "not init_image_id"),
    ({"modelId": "tiny-sd15-inpainting"}, "inpainting model"),
]  # fmt: skip


def test_request_shape(api: Api) -> None:
    for body, fragment in SHAPE_ERRORS:
        _refused(api, body, fragment)


def test_masks(api: Api) -> None:
    small = io.BytesIO()
    Image.new("L", (32, 32), 255).save(small, format="PNG")
    init_id, mask_id = _canvas(api, noise_png(), small.getvalue())
    canvas = {"canvasRequest": True, "canvasRequestType": "INPAINT", "canvasInitId": init_id}
    _refused(api, {**canvas, "canvasMaskId": mask_id}, "the mask is 32×32 but the canvas image is 64×64")
    black = io.BytesIO()
    Image.new("L", (64, 64), 0).save(black, format="PNG")
    init_id, mask_id = _canvas(api, noise_png(), black.getvalue())
    canvas["canvasInitId"] = init_id
    _refused(api, {**canvas, "canvasMaskId": mask_id}, "selects nothing")
    init_id, mask_id = _canvas(api, noise_png(), _center_mask())
    img2img = {**canvas, "canvasInitId": init_id, "canvasMaskId": mask_id, "canvasRequestType": "IMG2IMG"}
    _refused(api, {**img2img, "modelId": "tiny-sd15-inpainting"}, "inpainting model")


def test_steps_that_leave_nothing_to_denoise(api: Api) -> None:
    image_id = upload(api, noise_png())
    _refused(api, {"modelId": "tiny-sd-turbo", "num_inference_steps": None, "init_image_id": image_id},
             "leaves no denoising step")  # fmt: skip


def test_the_output_size_follows_the_picture(api: Api) -> None:
    wide = upload(api, noise_png((160, 80)))
    body = {key: value for key, value in EDIT.items() if key not in ("width", "height")}
    response = api.post("/generations", json={**body, "init_image_id": wide})
    generation = api.wait(response.json()["sdGenerationJob"]["generationId"])
    # tiny-sd15 draws 64×64 by default: the picture's 2:1 aspect within that many pixels.
    assert (generation["imageWidth"], generation["imageHeight"]) == (88, 48)
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
