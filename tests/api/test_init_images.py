"""Init-image uploads through presigned forms, on the local backend and on S3 (moto).

The same tests run on both backends. Only the local backend can refuse a tampered,
expired or oversized form at upload time (the S3 test server enforces nothing); those
tests are in tests/api/test_upload_policy.py.
"""

from __future__ import annotations

import io

from PIL import Image

from tests.api.conftest import Api
from tests.api.uploading import fetch, noise_png, post_form, request_upload, upload


def test_upload_read_delete_round_trip(backend_api: Api) -> None:
    api = backend_api
    ticket = request_upload(api, "png")
    assert {"key", "Content-Type", "policy"} <= set(ticket["fields"])
    assert ticket["fields"]["key"] == ticket["key"] and ticket["key"].endswith(".png")
    assert ticket["fields"]["Content-Type"] == "image/png"

    before = api.get(f"/init-image/{ticket['id']}").json()["init_images_by_pk"]
    assert before["id"] == ticket["id"] and "url" not in before  # nothing uploaded yet

    data = noise_png()
    response = post_form(api, ticket["url"], ticket["fields"], data)
    assert response.status_code == 204, response.text

    got = api.get(f"/init-image/{ticket['id']}")
    assert got.status_code == 200
    image = got.json()["init_images_by_pk"]
    assert image["id"] == ticket["id"] and image["createdAt"]
    downloaded = fetch(api, image["url"])
    assert downloaded.status_code == 200 and downloaded.content == data

    deleted = api.delete(f"/init-image/{ticket['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"delete_init_images_by_pk": {"id": ticket["id"]}}
    assert api.get(f"/init-image/{ticket['id']}").status_code == 404
    assert not api.ctx.blobs.exists(ticket["key"])
    assert api.delete(f"/init-image/{ticket['id']}").status_code == 404


def test_extensions(backend_api: Api) -> None:
    for extension, content_type in (("jpg", "image/jpeg"), ("JPEG", "image/jpeg"), ("webp", "image/webp")):
        ticket = request_upload(backend_api, extension)
        assert ticket["fields"]["Content-Type"] == content_type
    for bad in ("gif", "svg", "png/../x", ""):
        response = backend_api.post("/init-image", json={"extension": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid-request"
    assert backend_api.post("/init-image", json={}).status_code == 400


def test_jpeg_with_exif_orientation_uploads_as_is(backend_api: Api) -> None:
    picture = Image.new("RGB", (48, 32), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise on display
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif)
    image_id = upload(backend_api, buffer.getvalue(), "jpg")
    url = backend_api.get(f"/init-image/{image_id}").json()["init_images_by_pk"]["url"]
    assert fetch(backend_api, url).content == buffer.getvalue()  # the original bytes, untouched


def test_canvas_upload_gives_two_forms(backend_api: Api) -> None:
    response = backend_api.post("/canvas-init-image", json={"initExtension": "png", "maskExtension": "jpg"})
    assert response.status_code == 200, response.text
    body = response.json()["uploadCanvasInitImage"]
    assert body["initImageId"] != body["maskImageId"]
    assert body["initKey"].endswith(".png") and body["maskKey"].endswith(".jpg")
    for prefix in ("init", "mask"):
        got = backend_api.get(f"/init-image/{body[prefix + 'ImageId']}")
        assert got.status_code == 200
    bad = backend_api.post("/canvas-init-image", json={"initExtension": "png", "maskExtension": "bmp"})
    assert bad.status_code == 400 and "maskExtension" in bad.json()["error"]


def test_another_account_sees_nothing(backend_api: Api) -> None:
    api = backend_api
    image_id = upload(api, noise_png())
    other, _ = api.new_key("mallory")
    assert api.get(f"/init-image/{image_id}", key=other).status_code == 404
    assert api.delete(f"/init-image/{image_id}", key=other).status_code == 404
    assert api.get(f"/init-image/{image_id}").status_code == 200  # still there for its owner


def test_upload_needs_an_api_key(backend_api: Api) -> None:
    response = backend_api.client.post("/api/rest/v1/init-image", json={"extension": "png"})
    assert response.status_code == 401
