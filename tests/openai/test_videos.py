"""``client.videos`` with the official SDK, over sfumato's clips (the tiny video models)."""

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
from tests.api.video import read_clip, video_app
from tests.openai.conftest import TINY_ALIASES, openai_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's, for its video calls
TINY_VIDEO = {"sora-2": "tiny-ltx-video", "sora-2-pro": "tiny-wan"}


@pytest.fixture(scope="module")
def vapi(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[Api]:
    """One app for the module, on one backend: the clips are the video generations' own rows,
    tested on both elsewhere."""
    folder = tmp_path_factory.mktemp("openai-videos")
    url = f"sqlite:///{folder / 'sfumato.db'}"
    upgrade(url)
    with video_app(
        url, folder, models_dir, openai_models=TINY_ALIASES, openai_video_models=TINY_VIDEO
    ) as app:
        yield app


@pytest.fixture
def client(vapi: Api) -> OpenAI:
    return openai_for(vapi)


def test_create_poll_download_list_and_delete_a_clip(vapi: Api, client: OpenAI) -> None:
    video = client.videos.create(prompt="waves on a shore", model="sora-2", seconds="1", size="64x64")  # type: ignore[arg-type]
    assert video.object == "video" and video.status in ("queued", "in_progress")
    assert (video.model, video.seconds, video.size) == ("sora-2", "1", "64x64")
    done = client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed" and done.progress == 100 and done.completed_at is not None
    clip = read_clip(client.videos.download_content(done.id).content)
    assert clip.size == (64, 64) and clip.codec == "h264"
    assert len(clip.frames) == 9  # one second at the tiny model's 8 fps, plus the first frame
    poster = Image.open(io.BytesIO(client.videos.download_content(done.id, variant="thumbnail").content))
    assert poster.size == (64, 64)
    # The same clip on the Leonardo surface.
    generation = vapi.get(f"/generations/{done.id}").json()["generations_by_pk"]
    assert generation["status"] == "COMPLETE" and generation["generated_images"][0]["motionMP4URL"]

    second = client.videos.poll(client.videos.create(prompt="rain", model="tiny-ltx-video", seconds="1").id,
                                poll_interval_ms=50)  # fmt: skip
    page = client.videos.list(limit=1)
    assert [v.id for v in page.data] == [second.id] and page.has_more

    def listed(**arguments: object) -> list[str]:  # these two, among the module's other clips
        return [v.id for v in client.videos.list(**arguments) if v.id in (done.id, second.id)]  # type: ignore[arg-type]

    assert listed(limit=1) == [second.id, done.id]  # the SDK follows the cursor
    assert listed(order="asc") == [done.id, second.id]

    deleted = client.videos.delete(done.id)
    assert deleted.deleted and deleted.id == done.id
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(done.id)
    assert listed() == [second.id]


def test_an_input_reference_starts_the_clip(vapi: Api, client: OpenAI) -> None:
    picture = Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    video = client.videos.create(prompt="it moves", model="sora-2-pro", seconds="1", size="32x32",  # type: ignore[arg-type]
                                 input_reference=("first.png", buffer.getvalue(), "image/png"))  # fmt: skip
    done = client.videos.poll(video.id, poll_interval_ms=50)
    assert done.status == "completed" and done.size == "32x32"
    assert read_clip(client.videos.download_content(done.id).content).size == (32, 32)
    lineage = vapi.get(f"/generations/{done.id}").json()["generations_by_pk"]["lineage"]
    assert lineage["modelKey"] == "tiny-wan" and lineage["initImageSha256"]  # image-to-video, from it
    # The picture as a data URL in a JSON body (this SDK sends files only).
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    body = {"prompt": "it moves", "model": "sora-2-pro", "seconds": "1", "size": "32x32",
            "input_reference": {"image_url": data_url}}  # fmt: skip
    created = vapi.client.post("/v1/videos", json=body, headers=vapi.headers())
    assert created.status_code == 200, created.text
    again = client.videos.poll(created.json()["id"], poll_interval_ms=50)
    again_lineage = vapi.get(f"/generations/{again.id}").json()["generations_by_pk"]["lineage"]
    assert again.status == "completed" and again_lineage["initImageSha256"]


def test_models_list_the_video_models_and_their_aliases(client: OpenAI) -> None:
    names = {model.id for model in client.models.list()}
    assert {"sora-2", "sora-2-pro", "tiny-ltx-video", "dall-e-2"} <= names


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"model": "dall-e-2"}, "model"),  # an image model
        ({"seconds": "soon"}, "seconds"),
        ({"size": "wide"}, "size"),
    ],
)
def test_bad_video_requests_are_openai_400s(client: OpenAI, arguments: dict[str, str], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="waves", **{"model": "sora-2", **arguments})  # type: ignore[arg-type]
    assert caught.value.param == param


def test_an_unknown_clip_or_an_image_is_not_a_video(vapi: Api, client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content("no-such-video")
    image = client.images.generate(prompt="a fox", model="dall-e-2", size="64x64")
    generation = vapi.get(f"/generations/user/{vapi.user_id}").json()["generations"][0]  # the newest
    assert image.data and generation["status"] == "COMPLETE"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(generation["id"])


@pytest.mark.parametrize(
    "reference", ["a.png", {"file_id": "file-1"}, {"image_url": "data:image/png;base64,AAAA"}]
)
def test_a_reference_this_server_cannot_read_is_an_openai_400(vapi: Api, reference: object) -> None:
    body = {"prompt": "waves", "model": "sora-2-pro", "input_reference": reference}
    response = vapi.client.post("/v1/videos", json=body, headers=vapi.headers())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "input_reference"
