"""``response_format="url"`` is the blob store's own link: sfumato's signed URL on the local
directory, a presigned GET on S3; and edits read their pictures back from either."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from openai import OpenAI
from PIL import Image

from tests.api.conftest import Api
from tests.openai.conftest import openai_for, start


@pytest.fixture
def backend_oapi(
    database_url: str, tmp_path: Path, models_dir: Path, blob_backend: dict[str, str]
) -> Iterator[tuple[Api, str]]:
    overrides = {
        name.removeprefix("SFUMATO_").lower(): value
        for name, value in blob_backend.items()
        if name.startswith("SFUMATO_")
    }
    for api in start(database_url, tmp_path, models_dir, **overrides):
        yield api, blob_backend["SFUMATO_BLOB_BACKEND"]


def test_url_is_the_blob_stores_link_and_edits_read_back(backend_oapi: tuple[Api, str]) -> None:
    api, backend = backend_oapi
    client: OpenAI = openai_for(api)
    result = client.images.generate(prompt="a red fox", model="tiny-sd15", size="64x64")
    assert result.data is not None and result.data[0].url is not None
    url = result.data[0].url
    if backend == "s3":
        assert "Signature" in url  # presigned: no sfumato in the picture's path
        content = httpx.get(url).content
    else:
        content = api.client.get(url).content
    picture = Image.open(io.BytesIO(content)).convert("RGB")
    assert picture.size == (64, 64)

    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 64, 32))
    out_mask, out_picture = io.BytesIO(), io.BytesIO()
    mask.save(out_mask, format="PNG")
    picture.save(out_picture, format="PNG")
    edited = client.images.edit(image=("p.png", out_picture.getvalue(), "image/png"),
                                mask=("m.png", out_mask.getvalue(), "image/png"), prompt="snow",
                                model="tiny-sd15", response_format="b64_json")  # fmt: skip
    assert edited.data is not None and edited.data[0].b64_json is not None
    output = np.asarray(Image.open(io.BytesIO(base64.b64decode(edited.data[0].b64_json))).convert("RGB"))
    assert np.abs(output[32:].astype(int) - np.asarray(picture)[32:].astype(int)).max() <= 1
