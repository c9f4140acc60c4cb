"""``/media``: images and short videos uploaded through presigned forms, on both blob backends.

The local backend checks a file as it arrives and refuses it there (a 400, nothing kept);
an S3 bucket takes any file, so sfumato checks it when the media is first read and deletes
a refused one. Either way a refused file leaves nothing behind and the media says why.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sfumato.blobs import LocalBlobStore
from tests.api.conftest import Api
from tests.api.media_files import get_media, request_media, upload_media, video
from tests.api.uploading import fetch, noise_png, png, post_form


def _key(api: Api, media_id: str) -> str:
    from sfumato.store import uploaded_media

    with api.ctx.db.read() as session:
        row = uploaded_media.get(session, media_id, account_id=api.user_id)
        assert row is not None
        return row.blob_key


def _refused(api: Api, ticket: dict[str, Any], data: bytes, extension: str) -> str:
    """Upload ``data`` through ``ticket``'s form and expect it refused; the reason given."""
    response = post_form(api, ticket["url"], ticket["fields"], data, filename=f"upload.{extension}")
    media_id = ticket["uploadId"]
    if isinstance(api.ctx.blobs, LocalBlobStore):
        assert response.status_code == 400, response.text
        body = response.json()
        assert set(body) == {"error", "path", "code"}
        reason = str(body["error"])
    else:  # the bucket took it; the first read checks it
        assert response.status_code in (200, 204), response.text
        reason = ""
    media = get_media(api, media_id)
    assert media["status"] == "PENDING" and "url" not in media and "thumbnailUrl" not in media
    assert not api.ctx.blobs.exists(ticket["fields"]["key"])
    assert not api.ctx.blobs.exists(ticket["fields"]["key"].rsplit(".", 1)[0] + "-thumbnail.jpg")
    return reason or str(media.get("statusReason", ""))


def _mean_colour(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64).mean(axis=(0, 1))


def test_image_round_trip(backend_api: Api) -> None:
    api = backend_api
    ticket = request_media(api, "png")
    assert ticket["fields"]["Content-Type"] == "image/png"
    before = get_media(api, ticket["uploadId"])
    assert before["status"] == "PENDING" and before["mediaType"] == "IMAGE" and "url" not in before

    data = noise_png((96, 64))
    assert post_form(api, ticket["url"], ticket["fields"], data).status_code == 204
    media = get_media(api, ticket["uploadId"])
    assert media["id"] == ticket["uploadId"] and media["createdAt"]
    assert (media["status"], media["mediaType"]) == ("COMPLETE", "IMAGE")
    assert (media["width"], media["height"]) == (96, 64)
    assert "duration" not in media and "video_fps" not in media and "statusReason" not in media
    assert fetch(api, media["url"]).content == data
    thumbnail = Image.open(io.BytesIO(fetch(api, media["thumbnailUrl"]).content))
    assert thumbnail.format == "JPEG" and thumbnail.size == (96, 64)

    deleted = api.delete(f"/media/{ticket['uploadId']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"delete_uploaded_media_by_pk": {"id": ticket["uploadId"]}}
    assert api.get(f"/media/{ticket['uploadId']}").status_code == 404
    assert not api.ctx.blobs.exists(ticket["fields"]["key"])
    assert not api.ctx.blobs.exists(ticket["fields"]["key"].replace(".png", "-thumbnail.jpg"))
    assert api.delete(f"/media/{ticket['uploadId']}").status_code == 404


@pytest.mark.parametrize("container", ["mp4", "mov", "webm"])
def test_video_round_trip(backend_api: Api, container: str) -> None:
    api = backend_api
    data = video(container, frames=12, fps=8, size=(80, 48), first=(220, 30, 30))
    media_id = upload_media(api, data, container)
    media = get_media(api, media_id)
    assert media["status"] == "COMPLETE" and media["mediaType"] == "VIDEO"
    assert (media["width"], media["height"]) == (80, 48)
    assert media["video_fps"] == pytest.approx(8)
    assert media["duration"] == pytest.approx(12 / 8, abs=0.01)
    assert fetch(api, media["url"]).content == data
    red, green, blue = _mean_colour(fetch(api, media["thumbnailUrl"]).content)
    assert red > 150 and green < 80 and blue < 80  # the first frame, really decoded

    assert api.delete(f"/media/{media_id}").status_code == 200
    assert api.get(f"/media/{media_id}").status_code == 404


def test_extensions(backend_api: Api) -> None:
    expected = {"jpg": "image/jpeg", "JPEG": "image/jpeg", "webp": "image/webp", ".mp4": "video/mp4",
                "MOV": "video/quicktime", "webm": "video/webm"}  # fmt: skip
    for extension, content_type in expected.items():
        assert request_media(backend_api, extension)["fields"]["Content-Type"] == content_type
    for bad in ("gif", "avi", "mkv", "svg", "mp4/../x", ""):
        response = backend_api.post("/media", json={"extension": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid-request" and "extension" in response.json()["error"]
    assert backend_api.post("/media", json={}).status_code == 400


@pytest.mark.parametrize(
    ("extension", "data", "says"),
    [
        ("mp4", png(), "not an MP4 video"),
        ("webm", video("mp4"), "not a WebM video"),
        ("mp4", video("webm"), "not an MP4 video"),
        ("png", video("mp4"), "not a PNG, JPEG or WebP image"),
        ("jpg", png(), "not a JPEG image"),
        ("mp4", b"\x00\x00\x00\x18ftypisom" + bytes(200), "cannot be decoded"),
        ("png", b"\x89PNG\r\n\x1a\n" + bytes(100), "cannot be decoded"),
    ],
    ids=["png-as-mp4", "mp4-as-webm", "webm-as-mp4", "mp4-as-png", "png-as-jpg", "broken-mp4", "broken-png"],
)
def test_bytes_that_are_not_what_the_extension_says(
    backend_api: Api, extension: str, data: bytes, says: str
) -> None:
    ticket = request_media(backend_api, extension)
    assert says in _refused(backend_api, ticket, data, extension)


def test_video_limits(backend_api: Api) -> None:
    api = backend_api
    settings = api.ctx.settings
    settings.media_video_max_seconds = 1.0
    too_long = video(frames=15, fps=10)
    assert "longer than 1 seconds" in _refused(api, request_media(api, "mp4"), too_long, "mp4")
    settings.media_video_max_seconds, settings.media_video_max_frames = 30.0, 8
    assert "more than 8 frames" in _refused(api, request_media(api, "webm"), video("webm", frames=9), "webm")
    settings.media_video_max_frames, settings.media_video_max_pixels = 900, 64 * 32
    assert "pixels a frame" in _refused(api, request_media(api, "mp4"), video(size=(64, 48)), "mp4")
    settings.media_video_max_pixels = 1920 * 1080

    data = video(frames=8)
    settings.media_video_max_bytes = len(data) - 1
    assert f"at most {len(data) - 1}" in _refused(api, request_media(api, "mp4"), data, "mp4")
    settings.media_video_max_bytes = len(data)  # exactly at the limit is fine
    assert get_media(api, upload_media(api, data, "mp4"))["status"] == "COMPLETE"


def test_a_refused_form_may_be_used_again(backend_api: Api) -> None:
    api = backend_api
    ticket = request_media(api, "mp4")
    _refused(api, ticket, png(), "mp4")
    assert "not an MP4 video" in get_media(api, ticket["uploadId"])["statusReason"]
    data = video()
    response = post_form(api, ticket["url"], ticket["fields"], data, filename="clip.mp4")
    assert response.status_code == 204, response.text
    media = get_media(api, ticket["uploadId"])
    assert media["status"] == "COMPLETE" and "statusReason" not in media
    assert fetch(api, media["url"]).content == data


def test_unknown_ids_and_another_account(backend_api: Api) -> None:
    api = backend_api
    for response in (api.get("/media/no-such-id"), api.delete("/media/00000000-0000-0000-0000-000000000000")):
        assert response.status_code == 404
        assert set(response.json()) == {"error", "path", "code"}
    media_id = upload_media(api, video(), "mp4")
    other, _ = api.new_key("mallory")
    assert api.get(f"/media/{media_id}", key=other).status_code == 404
    assert api.delete(f"/media/{media_id}", key=other).status_code == 404
    assert get_media(api, media_id)["status"] == "COMPLETE"  # still there for its owner
    assert api.ctx.blobs.exists(_key(api, media_id))
    assert api.client.post("/api/rest/v1/media", json={"extension": "png"}).status_code == 401


def test_media_image_is_an_uploaded_init_image(backend_api: Api) -> None:
    """Image-to-image from media gives the very pixels of the same file uploaded as an init image."""
    from tests.api.test_image_editing import EDIT, _pixels
    from tests.api.uploading import upload

    api = backend_api
    source = noise_png(seed=1)
    media_id = upload_media(api, source, "png")
    generation = api.wait(api.generate(**EDIT, init_image_id=media_id, init_strength=0.3))
    assert generation["status"] == "COMPLETE", generation.get("failureReason")
    assert generation["initImageId"] == media_id
    assert generation["initImageSha256"] == hashlib.sha256(source).hexdigest()
    as_init_image = api.wait(api.generate(**EDIT, init_image_id=upload(api, source), init_strength=0.3))
    assert np.array_equal(_pixels(api, generation), _pixels(api, as_init_image))
    other = api.wait(
        api.generate(**EDIT, init_image_id=upload_media(api, noise_png(seed=2), "png"), init_strength=0.3)
    )
    assert not np.array_equal(_pixels(api, generation), _pixels(api, other))  # the picture steers it

    video_id = upload_media(api, video(), "mp4")
    refused = api.post("/generations", json={**EDIT, "init_image_id": video_id})
    assert refused.status_code == 400 and "is a video, not an image" in refused.json()["error"]
    waiting = request_media(api, "png")["uploadId"]
    refused = api.post("/generations", json={**EDIT, "init_image_id": waiting})
    assert refused.status_code == 400 and "has no file yet" in refused.json()["error"]
    other_key, _ = api.new_key("mallory")
    refused = api.post("/generations", json={**EDIT, "init_image_id": media_id}, key=other_key)
    assert refused.status_code == 400 and "no init image" in refused.json()["error"]


def test_media_deleted_as_its_file_arrives_keeps_nothing(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from sfumato.service import media as media_service

    ticket = request_media(api, "mp4")
    checked = media_service._checked

    def check_then_delete(*args: Any) -> Any:
        result = checked(*args)
        assert api.delete(f"/media/{ticket['uploadId']}").status_code == 200
        return result

    monkeypatch.setattr(media_service, "_checked", check_then_delete)
    response = post_form(api, ticket["url"], ticket["fields"], video(), filename="clip.mp4")
    assert response.status_code == 204, response.text
    key = ticket["fields"]["key"]
    assert not api.ctx.blobs.exists(key)
    assert not api.ctx.blobs.exists(key.rsplit(".", 1)[0] + "-thumbnail.jpg")
    assert api.get(f"/media/{ticket['uploadId']}").status_code == 404


def test_a_refused_media_image_is_no_init_image(backend_api: Api) -> None:
    """On S3 too, where the bucket took the file: using it checks it, refuses it, deletes it."""
    from tests.api.test_image_editing import EDIT

    api = backend_api
    ticket = request_media(api, "png")
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(jpeg, format="JPEG")
    post_form(api, ticket["url"], ticket["fields"], jpeg.getvalue())
    refused = api.post("/generations", json={**EDIT, "init_image_id": ticket["uploadId"]})
    assert refused.status_code == 400, refused.text
    assert "has no file yet" in refused.json()["error"] and "not a PNG image" in refused.json()["error"]
    assert not api.ctx.blobs.exists(ticket["fields"]["key"])
