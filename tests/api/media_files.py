"""Small real videos, encoded with PyAV, and the /media upload the way a client makes it."""

from __future__ import annotations

import io
import json
from typing import Any

import av
import numpy as np

from tests.api.conftest import Api
from tests.api.uploading import post_form

# Container → the encoder its test videos are made with.
ENCODERS = {"mp4": "libx264", "mov": "libx264", "webm": "libvpx-vp9"}


def video(
    container: str = "mp4",
    *,
    frames: int = 10,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    first: tuple[int, int, int] = (220, 30, 30),
) -> bytes:
    """A ``frames``-frame video whose first frame is ``first`` and later ones grey ramps."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(ENCODERS[container], rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        for index in range(frames):
            colour = first if index == 0 else (index * 20 % 256,) * 3
            pixels = np.empty((size[1], size[0], 3), np.uint8)
            pixels[:] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return buffer.getvalue()


def request_media(api: Api, extension: str, key: str | None = None) -> dict[str, Any]:
    response = api.post("/media", json={"extension": extension}, key=key)
    assert response.status_code == 200, response.text
    ticket = dict(response.json()["uploadMedia"])
    assert set(ticket) == {"uploadId", "url", "fields"}
    ticket["fields"] = json.loads(ticket["fields"])
    return ticket


def get_media(api: Api, media_id: str, key: str | None = None) -> dict[str, Any]:
    response = api.get(f"/media/{media_id}", key=key)
    assert response.status_code == 200, response.text
    return dict(response.json()["uploaded_media_by_pk"])


def upload_media(api: Api, data: bytes, extension: str, key: str | None = None) -> str:
    """Upload ``data`` as new media; its id."""
    ticket = request_media(api, extension, key=key)
    response = post_form(api, ticket["url"], ticket["fields"], data, filename=f"upload.{extension}")
    assert response.status_code in (200, 201, 204), response.text
    return str(ticket["uploadId"])
