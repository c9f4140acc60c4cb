"""``Idempotency-Key`` on creating POSTs, and de-duplication of identical seeded requests."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from leonardo_ai_sdk.models import operations
from starlette.types import Message, Receive, Scope, Send

from sfumato.api.auth_gate import PRINCIPAL
from sfumato.api.idempotency import IdempotencyMiddleware
from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import authenticate, issue_key
from sfumato.store import idempotency as store
from sfumato.store.clock import utcnow
from sfumato.store.models import IdempotencyRecord
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for

BODY = {"prompt": "a red fox", "modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1,
        "num_inference_steps": 10}  # fmt: skip


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def _count(api: Api, key: str | None = None, user_id: str | None = None) -> int:
    listing = api.get(f"/generations/user/{user_id or api.user_id}?limit=100", key=key).json()
    return len(listing["generations"])


def _post(api: Api, body: dict[str, Any], idem: str | None, key: str | None = None) -> Any:
    headers = api.headers(key)
    if idem is not None:
        headers["Idempotency-Key"] = idem
    return api.client.post("/api/rest/v1/generations", json=body, headers=headers)


def test_a_retried_request_gets_the_first_response_and_one_charge(api: Api) -> None:
    before = _balance(api)
    first = _post(api, BODY, "order-1")
    second = _post(api, BODY, "order-1")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    cost = first.json()["sdGenerationJob"]["apiCreditCost"]
    assert _balance(api) == before - cost
    assert _count(api) == 1


def test_the_same_key_with_another_body_is_a_409(api: Api) -> None:
    assert _post(api, BODY, "order-2").status_code == 200
    reused = _post(api, {**BODY, "prompt": "a blue fox"}, "order-2")
    assert reused.status_code == 409
    assert reused.json()["code"] == "idempotency-key-reused"
    assert set(reused.json()) == {"error", "path", "code"}
    assert _count(api) == 1


def test_keys_belong_to_their_account(api: Api) -> None:
    other_key, other_user = api.new_key("bob")
    mine = _post(api, BODY, "shared-name")
    theirs = _post(api, {**BODY, "prompt": "something else"}, "shared-name", key=other_key)
    assert mine.status_code == theirs.status_code == 200
    assert mine.json() != theirs.json()
    assert _count(api, key=other_key, user_id=other_user) == 1


def test_a_refused_request_frees_its_key(api: Api) -> None:
    bad = _post(api, {**BODY, "modelId": "no-such-model"}, "order-3")
    assert bad.status_code == 400
    fixed = _post(api, BODY, "order-3")
    assert fixed.status_code == 200
    assert _post(api, BODY, "order-3").json() == fixed.json()


def test_a_key_still_in_progress_is_a_409_until_it_goes_stale(api: Api) -> None:
    with api.ctx.db.transaction() as session:
        now = utcnow()
        session.add(
            IdempotencyRecord(account_id=api.user_id, key="busy", method="POST", path="/generations",
                              request_hash="x", created_at=now, expires_at=now + timedelta(hours=1))
        )  # fmt: skip
    busy = _post(api, BODY, "busy")
    assert busy.status_code == 409 and "in progress" in busy.json()["error"]
    with api.ctx.db.transaction() as session:
        record = session.query(IdempotencyRecord).filter_by(key="busy").one()
        record.created_at = utcnow() - timedelta(minutes=5)  # its process died long ago
    assert _post(api, BODY, "busy").status_code == 200


def test_malformed_keys_and_other_creating_posts(api: Api) -> None:
    assert _post(api, BODY, "x" * 300).status_code == 400
    assert _post(api, BODY, "").status_code == 400
    headers = {**api.headers(), "Idempotency-Key": "upload-1"}
    first = api.client.post("/api/rest/v1/init-image", json={"extension": "png"}, headers=headers)
    again = api.client.post("/api/rest/v1/init-image", json={"extension": "png"}, headers=headers)
    assert first.status_code == 200 and again.json() == first.json()
    # without a valid key the route answers as usual
    assert (
        api.client.post("/api/rest/v1/generations", json=BODY, headers={"Idempotency-Key": "k"}).status_code
        == 401
    )


def test_idempotency_through_the_sdk(api: Api) -> None:
    sdk = sdk_for(api)
    request = operations.CreateGenerationRequestBody(
        prompt="a lighthouse", model_id="tiny-sd15", width=64, height=64, num_images=1, num_inference_steps=10
    )
    first = sdk.image.create_generation(request=request, http_headers={"Idempotency-Key": "sdk-1"}).object
    again = sdk.image.create_generation(request=request, http_headers={"Idempotency-Key": "sdk-1"}).object
    assert first is not None and again is not None and first.sd_generation_job is not None
    assert again.sd_generation_job is not None
    assert first.sd_generation_job.generation_id == again.sd_generation_job.generation_id


def test_identical_seeded_requests_are_one_generation_and_one_charge(api: Api) -> None:
    before = _balance(api)
    seeded = {**BODY, "seed": 42}
    first = api.post("/generations", json=seeded).json()["sdGenerationJob"]
    again = api.post("/generations", json=seeded).json()["sdGenerationJob"]
    assert again["generationId"] == first["generationId"]
    assert again["apiCreditCost"] == 0
    assert _balance(api) == before - first["apiCreditCost"]
    # anything that changes the pixels is another request; so is a request without a seed
    assert (
        api.post("/generations", json={**seeded, "seed": 43}).json()["sdGenerationJob"]["generationId"]
        != (first["generationId"])
    )
    assert (
        api.post("/generations", json={**seeded, "prompt": "a grey fox"}).json()["sdGenerationJob"][
            "generationId"
        ]
        != first["generationId"]
    )
    unseeded = [
        api.post("/generations", json=BODY).json()["sdGenerationJob"]["generationId"] for _ in range(2)
    ]
    assert unseeded[0] != unseeded[1]
    # another account's identical request is its own
    other_key, _ = api.new_key("carol")
    assert (
        api.post("/generations", json=seeded, key=other_key).json()["sdGenerationJob"]["generationId"]
        != (first["generationId"])
    )


def test_a_failed_generation_does_not_count_and_the_window_ends(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    settings = make_settings(database_url, tmp_path, models_dir, dedupe_window_seconds=1.0)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
        issued = issue_key(ctx, username="erin")
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        seeded = {**BODY, "seed": 7}
        first = api.post("/generations", json=seeded).json()["sdGenerationJob"]["generationId"]
        assert api.post("/generations", json=seeded).json()["sdGenerationJob"]["generationId"] == first
        from sfumato.store.models import Generation

        with ctx.db.transaction() as session:
            generation = session.get(Generation, first)
            assert generation is not None
            generation.status = "FAILED"
        retried = api.post("/generations", json=seeded).json()["sdGenerationJob"]
        assert retried["generationId"] != first and retried["apiCreditCost"] > 0
        with ctx.db.transaction() as session:  # the window (1 s) has passed since the retry
            retried_row = session.get(Generation, retried["generationId"])
            assert retried_row is not None
            retried_row.created_at = utcnow() - timedelta(seconds=1.5)
        assert (
            api.post("/generations", json=seeded).json()["sdGenerationJob"]["generationId"]
            != (retried["generationId"])
        )


@pytest.mark.parametrize(("status", "stored"), [(200, True), (400, False)])
def test_the_key_is_settled_before_the_answer_ends(api: Api, status: int, stored: bool) -> None:
    """A 2xx answer is stored under its key, and any other answer frees the key, before the
    answer's last part goes out: a retry sent the moment the answer arrives is a replay (or
    runs anew), never a 409 for a request still in progress."""
    principal = authenticate(api.ctx, f"Bearer {api.key}")
    seen: list[tuple[bool, int | None]] = []  # at each part sent: more to come, the record's status

    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b'{"a":', "more_body": True})
        await send({"type": "http.response.body", "body": b"1}"})

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            with api.ctx.db.read() as session:
                record = store.find(session, account_id=principal.account_id, key="order-7")
                seen.append((message.get("more_body", False), record.status_code if record else -1))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/api/rest/v1/generations", "query_string": b"",
             "headers": [(b"idempotency-key", b"order-7")], "app": api.client.app,
             PRINCIPAL: principal}  # fmt: skip
    asyncio.run(IdempotencyMiddleware(answer, prefix="/api/rest/v1")(scope, receive, send))
    assert seen == [(True, None), (False, 200 if stored else -1)]
