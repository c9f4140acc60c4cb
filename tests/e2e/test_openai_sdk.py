"""The official ``openai`` package, unchanged, against a live ``sfumato serve``: in one
process, and with the API and the worker in separate processes (the wait then hears the
worker's commit through PostgreSQL, or looks again on SQLite)."""

from __future__ import annotations

import base64
import io
import json

import httpx
import numpy as np
import pytest
from openai import OpenAI
from PIL import Image

from tests.e2e.conftest import Processes

pytestmark = pytest.mark.slow
ALIASES = json.dumps({"dall-e-2": "tiny-sd15", "gpt-image-1": "tiny-sdxl"})


def _png(picture: Image.Image) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _round_trip(base: str, api_key: str) -> None:
    client = OpenAI(base_url=f"{base}/v1", api_key=api_key, max_retries=0)
    assert {"dall-e-2", "gpt-image-1", "tiny-sd15"} <= {m.id for m in client.models.list()}

    result = client.images.generate(prompt="a lighthouse at dusk", model="dall-e-2", size="96x64", n=2,
                                    extra_body={"seed": 5})  # fmt: skip
    assert result.data is not None and len(result.data) == 2
    for image in result.data:
        assert image.url is not None
        picture = Image.open(io.BytesIO(httpx.get(image.url).content))
        assert picture.size == (96, 64)

    source = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = Image.new("RGBA", (64, 64), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, 32, 64))  # the left half may change
    edited = client.images.edit(image=("a.png", _png(Image.fromarray(source)), "image/png"),
                                mask=("m.png", _png(mask), "image/png"), prompt="a wall of ivy",
                                model="dall-e-2", response_format="b64_json")  # fmt: skip
    assert edited.data is not None and edited.data[0].b64_json is not None
    output = np.asarray(Image.open(io.BytesIO(base64.b64decode(edited.data[0].b64_json))).convert("RGB"))
    kept = np.abs(output[:, 32:].astype(int) - source[:, 32:].astype(int))
    assert kept.max() <= 1

    # Previews travel from the worker (its process or this one) as blobs named in the job's row.
    events = list(client.images.generate(prompt="a harbour", model="dall-e-2", size="64x64", stream=True,
                                         partial_images=2, extra_body={"steps": 6}))  # fmt: skip
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]


def test_openai_sdk_against_sfumato_serve(processes: Processes) -> None:
    processes.env["SFUMATO_OPENAI_MODELS"] = ALIASES
    base = processes.serve()
    _round_trip(base, processes.new_key("openai-user")["apiKey"])


def test_openai_sdk_with_the_worker_in_its_own_process(processes: Processes) -> None:
    processes.env["SFUMATO_OPENAI_MODELS"] = ALIASES
    base = processes.serve("--no-worker")
    processes.spawn("worker", "worker")
    _round_trip(base, processes.new_key("openai-user")["apiKey"])
