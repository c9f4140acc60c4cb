"""Uploading the way a client does: ask for a presigned form, POST the file to it, no credentials."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from PIL import Image

from tests.api.conftest import Api


def png(size: tuple[int, int] = (64, 64), color: Any = (200, 40, 40), mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def noise_png(size: tuple[int, int] = (64, 64), seed: int = 0) -> bytes:
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _client(api: Api, url: str) -> Any:
    """The app's own TestClient for its URLs, a real HTTP client for the bucket's."""
    return api.client if url.startswith("http://testserver") else httpx


def post_form(api: Api, url: str, fields: dict[str, str], data: bytes, filename: str = "image.png") -> Any:
    """S3's multipart form: every field, then the file last; no Authorization header."""
    return _client(api, url).post(
        url, data=fields, files={"file": (filename, data, "application/octet-stream")}
    )


def fetch(api: Api, url: str) -> Any:
    return _client(api, url).get(url)


def request_upload(api: Api, extension: str = "png", key: str | None = None) -> dict[str, Any]:
    response = api.post("/init-image", json={"extension": extension}, key=key)
    assert response.status_code == 200, response.text
    ticket = dict(response.json()["uploadInitImage"])
    ticket["fields"] = json.loads(ticket["fields"])
    return ticket


def upload(api: Api, data: bytes, extension: str = "png", key: str | None = None) -> str:
    """Upload ``data`` as a new init image; its id."""
    ticket = request_upload(api, extension, key=key)
    response = post_form(api, ticket["url"], ticket["fields"], data)
    assert response.status_code in (200, 201, 204), response.text
    return str(ticket["id"])
