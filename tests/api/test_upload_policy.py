"""The local backend is the bucket: it enforces the presigned form's policy as S3 does.

Each refused upload leaves nothing behind. (S3's own enforcement is the bucket's job, and
the S3 test server enforces nothing, so these run on the local backend only.)
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from PIL import Image

from tests.api.conftest import Api
from tests.api.uploading import noise_png, post_form, request_upload


def _refused(api: Api, ticket: dict[str, Any], fields: dict[str, str], data: bytes, status: int) -> str:
    response = post_form(api, ticket["url"], fields, data)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "path", "code"}
    assert not api.ctx.blobs.exists(ticket["key"])
    return str(body["error"])


def test_the_form_goes_to_this_server_without_credentials(api: Api) -> None:
    ticket = request_upload(api)
    assert ticket["url"] == "http://testserver/uploads"
    assert post_form(api, ticket["url"], ticket["fields"], noise_png()).status_code == 204
    assert api.ctx.blobs.exists(ticket["key"])


def test_expired_form(api: Api) -> None:
    ticket = request_upload(api)
    stale = api.ctx.blobs.presign_post(
        ticket["key"], content_type="image/png", max_bytes=10**6, expires_in=-5
    )
    assert "expired" in _refused(api, ticket, stale.fields, noise_png(), 403)


def test_tampered_policy(api: Api) -> None:
    ticket = request_upload(api)
    document = json.loads(base64.b64decode(ticket["fields"]["policy"]))
    document["conditions"][2][2] = 10**12  # a bigger size range, same signature
    forged = {**ticket["fields"], "policy": base64.b64encode(json.dumps(document).encode()).decode()}
    assert "signature" in _refused(api, ticket, forged, noise_png(), 403)


def test_forged_signature_and_missing_policy(api: Api) -> None:
    ticket = request_upload(api)
    forged = {**ticket["fields"], "x-sfumato-signature": "0" * 64}
    _refused(api, ticket, forged, noise_png(), 403)
    bare = {k: v for k, v in ticket["fields"].items() if k != "policy"}
    _refused(api, ticket, bare, noise_png(), 403)


def test_changed_content_type_or_extra_field(api: Api) -> None:
    ticket = request_upload(api)
    _refused(api, ticket, {**ticket["fields"], "Content-Type": "text/html"}, noise_png(), 403)
    _refused(api, ticket, {**ticket["fields"], "acl": "public-read"}, noise_png(), 403)


def test_upload_to_someone_elses_key(api: Api) -> None:
    victim = request_upload(api)
    mallory, _ = api.new_key("mallory")
    own = request_upload(api, key=mallory)
    hijack = {**own["fields"], "key": victim["key"]}
    assert "key" in _refused(api, victim, hijack, noise_png(), 403)
    assert not api.ctx.blobs.exists(own["key"])


def test_oversized_file(api: Api) -> None:
    ticket = request_upload(api)
    small = api.ctx.blobs.presign_post(ticket["key"], content_type="image/png", max_bytes=100, expires_in=60)
    error = _refused(api, ticket, small.fields, noise_png(), 400)
    assert "at most 100" in error
    # Larger than any form accepts (images, media videos and meshes alike): refused before it is read.
    settings = api.ctx.settings
    settings.upload_max_bytes = settings.media_video_max_bytes = settings.model_asset_max_bytes = 1000
    response = post_form(api, ticket["url"], ticket["fields"], noise_png((256, 256)))
    assert response.status_code == 400 and response.json()["code"] == "entity-too-large"


def test_bad_files(api: Api) -> None:
    ticket = request_upload(api)
    assert "not a PNG, JPEG or WebP" in _refused(api, ticket, ticket["fields"], b"<svg></svg>" * 10, 400)
    truncated = noise_png()[:-200]
    assert "cannot be decoded" in _refused(api, ticket, ticket["fields"], truncated, 400)
    bomb = io.BytesIO()
    Image.new("1", (5000, 5000)).save(bomb, format="PNG")  # a few KB that decode to 25 megapixels
    assert "pixels" in _refused(api, ticket, ticket["fields"], bomb.getvalue(), 400)
    _refused(api, ticket, ticket["fields"], b"", 400)


def test_form_without_a_file(api: Api) -> None:
    ticket = request_upload(api)
    response = api.client.post(ticket["url"], data=ticket["fields"])
    assert response.status_code == 400
    assert not api.ctx.blobs.exists(ticket["key"])


def test_upload_after_the_init_image_was_deleted(api: Api) -> None:
    ticket = request_upload(api)
    assert api.delete(f"/init-image/{ticket['id']}").status_code == 200
    _refused(api, ticket, ticket["fields"], noise_png(), 404)
