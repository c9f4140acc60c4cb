"""Helpers for the realtime canvas and variation tests: an app on the tiny models, pictures."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings

# The realtime model loads on first use here (tests/worker covers loading it at start), and a
# busy test machine may need long for that first load.
TINY_MODELS = {"realtime_model": "tiny-lcm", "upscaler": "tiny-esrgan", "segmenter": "tiny-mask2former",
               "realtime_warm": False, "realtime_timeout_seconds": 180}  # fmt: skip


@contextmanager
def canvas_app(
    database_url: str, tmp_path: Path, models_dir: Path, *, with_worker: bool = True, **overrides: Any
) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, models_dir, **{**TINY_MODELS, **overrides})
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=with_worker)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def noise(width: int = 64, height: int = 64, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def data_url(image: Image.Image, format: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    mime = "image/png" if format == "PNG" else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode()


def from_data_url(url: str) -> Image.Image:
    header, payload = url.split(",", 1)
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def square_mask(size: int = 64, box: tuple[int, int, int, int] = (16, 16, 48, 48)) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    mask.paste(255, box)
    return mask


def balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def picture_at(api: Api, url: str) -> Image.Image:
    response = api.client.get(url)
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


def wait_variation(
    api: Api, variation_id: str, key: str | None = None, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(f"/variations/{variation_id}", key=key)
        assert response.status_code == 200, response.text
        [variation] = response.json()["generated_image_variation_generic"]
        if variation["status"] != "PENDING":
            return dict(variation)
        time.sleep(0.05)
    raise AssertionError(f"variation {variation_id} still PENDING after {timeout}s")
