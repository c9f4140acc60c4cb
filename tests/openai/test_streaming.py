"""``stream=True, partial_images=N`` with the official SDK: previews decoded from the running
latents, then the completed pictures with their usage."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

from sfumato.store.migrate import upgrade
from tests.api.conftest import Api
from tests.openai.conftest import openai_for, start

SIZE = 64


def _sqlite(folder: Path) -> str:
    url = f"sqlite:///{folder / 'sfumato.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def oapi(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Api]:
    """One app for the module, on one backend: the previews' way through PostgreSQL (and
    another process) is the end-to-end tests' (tests/e2e)."""
    folder = tmp_path_factory.mktemp("openai-streaming")
    yield from start(_sqlite(folder), folder, models_dir)


def _pixels(b64: str) -> np.ndarray:
    picture = Image.open(io.BytesIO(base64.b64decode(b64)))
    assert picture.format == "PNG" and picture.size == (SIZE, SIZE)
    return np.asarray(picture.convert("RGB")).astype(int)


def test_generate_streams_previews_of_the_run_then_the_picture(oapi: Api, client: OpenAI) -> None:
    events = list(
        client.images.generate(
            prompt="a lighthouse", model="tiny-sd15", size=f"{SIZE}x{SIZE}", stream=True, partial_images=2,
            extra_body={"steps": 6, "seed": 11},
        )
    )  # fmt: skip
    partial = [e for e in events if e.type == "image_generation.partial_image"]
    completed = [e for e in events if e.type == "image_generation.completed"]
    assert events[-1].type == "image_generation.completed" and len(completed) == 1
    assert [e.partial_image_index for e in partial] == [0, 1]
    first, second, final = (_pixels(e.b64_json) for e in (*partial, *completed))
    # Decoded from the latents at steps 2 and 4 of 6: earlier pictures, closing in on the result
    # (by little: the tiny random model moves its latents little per step).
    assert np.abs(first - final).mean() > np.abs(second - final).mean() > 0
    usage = completed[0].usage
    assert (
        usage.output_tokens == (SIZE // 16) ** 2
        and usage.input_tokens == usage.input_tokens_details.text_tokens
    )
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    # The same generation as ever: visible, complete, with the streamed picture.
    generation = oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"][0]  # the newest
    assert generation["status"] == "COMPLETE"
    stored = oapi.client.get(generation["generated_images"][0]["url"]).content
    assert np.array_equal(_pixels(base64.b64encode(stored).decode()), final)


def test_edit_streams_its_previews_and_completed_events(client: OpenAI) -> None:
    source = Image.fromarray(np.random.default_rng(0).integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    source.save(buffer, format="PNG")
    events = list(
        client.images.edit(
            image=("a.png", buffer.getvalue(), "image/png"), prompt="ivy", model="tiny-sd15", n=2,
            stream=True, partial_images=1, extra_body={"steps": 4, "strength": 0.9},
        )
    )  # fmt: skip
    types = [e.type for e in events]
    assert types == ["image_edit.partial_image", "image_edit.completed", "image_edit.completed"]
    previews, *pictures = (_pixels(e.b64_json) for e in events)
    assert all(np.abs(previews - p).mean() > 0 for p in pictures)
    usages = [e.usage for e in events[1:]]  # type: ignore[union-attr]
    assert usages[0].input_tokens_details.image_tokens == (SIZE // 16) ** 2  # the picture it was shown
    assert usages[1].input_tokens == 0 and all(u.output_tokens == (SIZE // 16) ** 2 for u in usages)


def test_a_stream_that_times_out_ends_with_an_error_event(tmp_path: Path, models_dir: Path) -> None:
    for api in start(_sqlite(tmp_path), tmp_path, models_dir, with_worker=False, openai_timeout_seconds=0.3):
        stream = openai_for(api).images.generate(
            prompt="a red fox", model="tiny-sd15", size="64x64", stream=True, partial_images=1
        )
        with pytest.raises(openai.APIError) as caught:
            list(stream)
        assert "within" in caught.value.message and caught.value.code == "timeout"
        [generation] = api.get(f"/generations/user/{api.user_id}").json()["generations"]
        assert generation["status"] == "FAILED"  # abandoned and refunded, as without a stream


def test_a_retried_stream_with_an_idempotency_key_replays_its_events(oapi: Api, client: OpenAI) -> None:
    def draw() -> list[str]:
        stream = client.images.generate(
            prompt="a lighthouse", model="tiny-sd15", size=f"{SIZE}x{SIZE}", stream=True, partial_images=1,
            extra_body={"steps": 4}, extra_headers={"Idempotency-Key": "stream-once"},
        )  # fmt: skip
        return [event.b64_json for event in stream]

    before = len(oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"])
    first, again = draw(), draw()
    assert len(first) == 2 and again == first
    assert len(oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"]) == before + 1


def test_a_stream_refused_at_admission_is_an_ordinary_openai_error(oapi: Api) -> None:
    key, _user_id = oapi.new_key("pauper", credits=0)
    with pytest.raises(openai.RateLimitError) as caught:
        openai_for(oapi, key).images.generate(
            prompt="a fox", model="tiny-sd15", stream=True, partial_images=1
        )
    assert caught.value.code == "insufficient_quota"
    with pytest.raises(openai.BadRequestError) as bad:
        openai_for(oapi).images.generate(prompt="a fox", model="tiny-sd15", stream=True, partial_images=4)
    assert bad.value.param == "partial_images"
