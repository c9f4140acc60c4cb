"""Helpers for the video tests: an app whose motion models are the tiny ones, MP4 readers."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tests.api.canvas import canvas_app
from tests.api.conftest import Api

# Every motion model name on the tiny video models (VEO3 names on Wan, like the defaults).
TINY_MOTION = {
    "MOTION2": "tiny-ltx-video",
    "MOTION2FAST": "tiny-ltx-video",
    "VEO3": "tiny-wan",
    "VEO3FAST": "tiny-wan",
    "KLING2_1": "tiny-wan",
    "KLING2_5": "tiny-wan",
}


@contextmanager
def video_app(database_url: str, tmp_path: Path, models_dir: Path, **overrides: Any) -> Iterator[Api]:
    settings: dict[str, Any] = {"model_aliases": TINY_MOTION, "svd_model": "tiny-svd", **overrides}
    with canvas_app(database_url, tmp_path, models_dir, **settings) as app:
        yield app


@dataclass
class Clip:
    frames: np.ndarray  # (count, height, width, 3) uint8
    fps: float
    codec: str
    pixel_format: str
    boxes: list[str]  # the MP4's top-level boxes, in file order

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[2]), int(self.frames.shape[1])


def read_clip(data: bytes) -> Clip:
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        codec, pixel_format = stream.codec_context.name, stream.codec_context.pix_fmt
        fps = float(stream.average_rate or 0)
        frames = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)])
    return Clip(frames=frames, fps=fps, codec=codec, pixel_format=str(pixel_format), boxes=_boxes(data))


def fetch_clip(api: Api, url: str) -> Clip:
    response = api.client.get(url)
    assert response.status_code == 200, response.text
    return read_clip(response.content)


def _boxes(data: bytes) -> list[str]:
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append(name.decode("latin-1"))
        if size < 8:
            break
        offset += size
    return boxes
