"""Request bodies: the key is checked before the body is read, and no body is larger than
its route allows; what is refused is neither charged nor queued.

Streamed (chunked) bodies are driven through the ASGI app directly, so each test knows
how many bytes the server pulled from the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import BASE, Api, make_settings
from tests.api.uploading import noise_png, png, upload

MiB = 1024 * 1024
UPLOAD_MAX = 256 * 1024
SMALL = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1,
         "num_inference_steps": 10, "prompt": "a red fox"}  # fmt: skip


@dataclass
class Streamed:
    """The answer to a streamed request, and how much of its body the server pulled."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    pulled_bytes: int = 0
    receive_calls: int = 0
    chunks_offered: int = 0
    sent: list[dict[str, Any]] = field(default_factory=list)


def stream(
    api: Api, path: str, chunks: list[bytes], *, key: str | None = None, headers: dict[str, str] | None = None
) -> Streamed:
    """POST ``chunks`` without a Content-Length, counting what the app reads of them."""
    raw_headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    if key is not None:
        raw_headers.append((b"authorization", f"Bearer {key}".encode()))
    for name, value in (headers or {}).items():
        raw_headers.append((name.lower().encode(), value.encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": b"", "headers": raw_headers, "client": ("127.0.0.1", 5000),
             "server": ("testserver", 80)}  # fmt: skip
    result = Streamed(status=0, body={}, headers={}, chunks_offered=len(chunks))
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        result.receive_calls += 1
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        result.pulled_bytes += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        result.sent.append(message)
        if message["type"] == "http.response.start":
            result.status = message["status"]
            result.headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}

    asyncio.run(api.client.app(scope, receive, send))  # type: ignore[arg-type]
    body = b"".join(m.get("body", b"") for m in result.sent if m["type"] == "http.response.body")
    result.body = json.loads(body) if body else {}
    return result


def padded(size: int) -> bytes:
    """A valid generation request, padded with whitespace to ``size`` bytes."""
    text = json.dumps(SMALL).encode()
    return text[:-1] + b" " * (size - len(text)) + b"}"


def balance(api: Api) -> int:
    return int(api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"])


def generations(api: Api) -> list[Any]:
    return list(api.get(f"/generations/user/{api.user_id}").json()["generations"])


@pytest.fixture
def small_api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """``api`` with a 4 KiB JSON limit and 256 KiB uploads, so over-limit bodies stay cheap."""
    settings = make_settings(
        database_url, tmp_path, models_dir, max_json_body_bytes=4096, upload_max_bytes=UPLOAD_MAX
    )
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def test_a_padded_valid_request_over_the_limit_is_refused_uncharged(api: Api) -> None:
    before = balance(api)
    body = padded(10 * MiB)
    assert json.loads(body) == SMALL  # valid, only large
    response = api.client.post(
        BASE + "/generations", content=body, headers={**api.headers(), "content-type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json() == {
        "error": f"The request body is larger than {MiB} bytes",
        "path": "$",
        "code": "entity-too-large",
    }
    assert response.headers["connection"] == "close"
    assert balance(api) == before and generations(api) == []
    # the same request, unpadded, is accepted and charged
    assert api.post("/generations", json=SMALL).status_code == 200
    assert balance(api) < before


def test_a_declared_length_over_the_limit_is_refused_before_reading(api: Api) -> None:
    chunks = [b"{" + b" " * (64 * 1024)] * 40
    refused = stream(api, BASE + "/generations", chunks, key=api.key,
                     headers={"content-length": str(40 * (64 * 1024 + 1))})  # fmt: skip
    assert refused.status == 413 and refused.body["code"] == "entity-too-large"
    assert refused.receive_calls == 0


def test_an_unauthenticated_body_is_never_read(api: Api) -> None:
    chunks = [b"{" + b" " * (64 * 1024)] * 3200  # 200 MiB, were it read
    for key in (None, "sfu_not-a-key"):
        refused = stream(api, BASE + "/generations", chunks, key=key)
        assert refused.status == 401, refused.body
        assert refused.body["code"] == "access-denied"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.receive_calls == 0 and refused.pulled_bytes == 0
    assert generations(api) == []


def test_a_chunked_body_is_cut_off_at_the_limit(small_api: Api) -> None:
    api = small_api
    before = balance(api)
    chunk_size = 1024
    body = padded(64 * 1024)
    chunks = [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]
    refused = stream(api, BASE + "/generations", chunks, key=api.key)
    assert refused.status == 413, refused.body
    assert refused.body == {
        "error": "The request body is larger than 4096 bytes",
        "path": "$",
        "code": "entity-too-large",
    }
    # reading stopped with the chunk that crossed the limit
    assert refused.pulled_bytes == 4096 + chunk_size
    assert [m["type"] for m in refused.sent] == ["http.response.start", "http.response.body"]
    assert balance(api) == before and generations(api) == []


def test_a_chunked_body_within_the_limit_is_served(small_api: Api) -> None:
    body = json.dumps(SMALL).encode()
    accepted = stream(small_api, BASE + "/generations", [body[:10], body[10:]], key=small_api.key)
    assert accepted.status == 200, accepted.body
    assert accepted.body["sdGenerationJob"]["generationId"]
    assert accepted.pulled_bytes == len(body)


def test_an_idempotent_request_over_the_limit_leaves_its_key_unused(small_api: Api) -> None:
    api = small_api
    headers = {"idempotency-key": "order-1"}
    body = padded(8192)
    chunks = [body[i : i + 1024] for i in range(0, len(body), 1024)]
    refused = stream(api, BASE + "/generations", chunks, key=api.key, headers=headers)
    assert refused.status == 413, refused.body
    accepted = api.client.post(BASE + "/generations", json=SMALL, headers={**api.headers(), **headers})
    assert accepted.status_code == 200, accepted.text
    assert "idempotent-replayed" not in accepted.headers
    assert len(generations(api)) == 1


def test_canvas_routes_have_room_for_their_pictures(small_api: Api) -> None:
    """A canvas body carries data URLs: one largest upload each, base64-encoded, past the JSON limit."""
    picture = "data:image/png;base64," + "A" * (4 * UPLOAD_MAX // 3 - 64)  # just within one picture
    body = {"imageDataUrl": picture, "maskDataUrl": picture, "prompt": "a fox", "width": 64, "height": 64}
    response = small_api.post("/lcm-inpainting", json=body)  # two pictures: room for both
    assert response.status_code == 400, response.text  # read and judged, not refused unread
    assert small_api.post("/lcm-inpainting", json={**body, "maskDataUrl": picture * 2}).status_code == 413
    one = {key: value for key, value in body.items() if key != "maskDataUrl"}
    for path in ("/generations-lcm", "/lcm-instant-refine", "/lcm-upscale"):  # one picture each
        assert small_api.post(path, json=one).status_code == 400
        refused = small_api.post(path, json={**one, "imageDataUrl": picture * 2})
        assert refused.status_code == 413, (path, refused.text)


def test_the_upload_form_keeps_its_own_limit(small_api: Api) -> None:
    """Presigned image uploads are bounded by SFUMATO_UPLOAD_MAX_BYTES, not the JSON limit."""
    image = noise_png((128, 128))
    assert len(image) > 4096
    assert upload(small_api, image)
    assert upload(small_api, png())


def test_malformed_json_is_a_client_error(api: Api) -> None:
    response = api.client.post(BASE + "/generations", content=b'{"prompt": "a fox",',
                               headers={**api.headers(), "content-type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "invalid-json" and payload["path"] == "$"
    assert payload["error"].startswith("Malformed JSON body: ") and "character 19" in payload["error"]


def test_a_body_that_is_not_utf8_is_a_client_error(api: Api) -> None:
    before = balance(api)
    body = b'{"prompt": "caf\xe9", "modelId": "tiny-sd15"}'  # Latin-1, not UTF-8
    response = api.client.post(
        BASE + "/generations", content=body, headers={**api.headers(), "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "Malformed JSON body: not UTF-8 (byte 15)",
        "path": "$",
        "code": "invalid-json",
    }
    assert balance(api) == before and generations(api) == []


def test_routes_outside_the_api_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").status_code == 200
