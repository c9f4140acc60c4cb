"""``client.images.edit`` and ``client.images.create_variation`` with the official SDK."""

from __future__ import annotations

import base64
import io

import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.api.conftest import Api

SIZE = 64
HOLE = (16, 16, 48, 48)  # the square the mask leaves transparent: what may change


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _source() -> np.ndarray:
    """A picture with structure everywhere, so a kept pixel cannot match by chance."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return np.stack([x * 4, y * 4, (x * y) % 256], axis=-1).astype(np.uint8)


def _mask() -> bytes:
    mask = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), HOLE)
    return _png(mask)


def _decoded(result: openai.types.ImagesResponse) -> list[np.ndarray]:
    assert result.data is not None
    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(image.b64_json or ""))).convert("RGB"))
        for image in result.data
    ]


def test_edit_repaints_the_masks_transparent_area_and_keeps_the_rest(oapi: Api, client: OpenAI) -> None:
    source = _source()
    result = client.images.edit(
        image=("source.png", _png(Image.fromarray(source)), "image/png"),
        mask=("mask.png", _mask(), "image/png"),
        prompt="a red apple", model="dall-e-2", n=2, response_format="b64_json",
    )  # fmt: skip
    outputs = _decoded(result)
    assert len(outputs) == 2
    left, top, right, bottom = HOLE
    inside = np.zeros((SIZE, SIZE), dtype=bool)
    inside[top:bottom, left:right] = True
    for output in outputs:
        assert output.shape == source.shape
        difference = np.abs(output.astype(int) - source.astype(int))
        assert difference[~inside].max() <= 1  # unmasked pixels kept
        assert difference[inside].mean() > 10  # the hole was repainted
    [generation] = oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"]
    full = oapi.get(f"/generations/{generation['id']}").json()["generations_by_pk"]
    assert full["status"] == "COMPLETE" and full["prompt"] == "a red apple"


def test_edit_without_a_mask_redraws_the_picture_at_its_size(client: OpenAI) -> None:
    source = _source()
    result = client.images.edit(
        image=("source.png", _png(Image.fromarray(source)), "image/png"),
        prompt="a red apple", model="tiny-sd15", response_format="b64_json", extra_body={"strength": 0.5},
    )  # fmt: skip
    [output] = _decoded(result)
    assert output.shape == source.shape
    assert not np.array_equal(output, source)


@pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")  # the SDK's, for create_variation
def test_variation_redraws_the_picture(oapi: Api, client: OpenAI) -> None:
    source = _source()
    result = client.images.create_variation(
        image=("source.png", _png(Image.fromarray(source)), "image/png"), model="dall-e-2", n=2,
        response_format="b64_json",
    )  # fmt: skip
    outputs = _decoded(result)
    assert len(outputs) == 2 and all(o.shape == source.shape for o in outputs)
    assert not np.array_equal(outputs[0], outputs[1])  # consecutive seeds
    [generation] = oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"]
    assert generation["status"] == "COMPLETE"


@pytest.mark.parametrize(
    ("mask", "param"),
    [
        (_png(Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 255))), "mask"),  # nothing transparent
        (_png(Image.new("RGBA", (32, 32), (0, 0, 0, 0))), "mask"),  # not the picture's size
        (b"not a picture", "mask"),
    ],
)
def test_bad_mask_is_an_openai_400(client: OpenAI, mask: bytes, param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(
            image=("source.png", _png(Image.fromarray(_source())), "image/png"),
            mask=("mask.png", mask, "image/png"), prompt="x", model="tiny-sd15",
        )  # fmt: skip
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert body["param"] == param


def test_a_picture_that_is_not_one_is_an_openai_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(image=("source.png", b"not a picture", "image/png"), prompt="x", model="tiny-sd15")
    assert caught.value.param == "image"


def test_edit_form_fields_are_validated(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.edit(
            image=("source.png", _png(Image.fromarray(_source())), "image/png"), prompt="x", n=99,
            model="tiny-sd15",
        )  # fmt: skip
    assert caught.value.param == "n"


def test_a_picture_over_the_json_limit_is_read(oapi: Api) -> None:
    """The multipart routes take pictures larger than a JSON body may be (then judge them)."""
    big = b"\x89PNG\r\n\x1a\n" + bytes(oapi.ctx.settings.max_json_body_bytes + 1)
    response = oapi.client.post(
        "/v1/images/edits", headers=oapi.headers(), data={"prompt": "x"}, files={"image": ("a.png", big)}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "image"
