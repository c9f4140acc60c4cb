"""``Idempotency-Key`` on ``/v1`` and its refusals in OpenAI's shape."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from sfumato.store import credits
from tests.api.conftest import Api


def test_a_repeated_key_answers_the_first_generation_again_charged_once(oapi: Api, client: OpenAI) -> None:
    headers = {"Idempotency-Key": "harbour-1"}
    ask = {"prompt": "a harbour", "model": "tiny-sd15", "size": "64x64", "extra_headers": headers}
    first = client.images.with_raw_response.generate(**ask)  # type: ignore[arg-type]
    again = client.images.with_raw_response.generate(**ask)  # type: ignore[arg-type]
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.parse().data == first.parse().data
    [generation] = oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"]
    with oapi.ctx.db.read() as session:
        kinds = [entry.kind for entry in credits.entries_for(session, subject_id=generation["id"])]
    assert kinds == ["debit"]


def test_the_same_key_with_another_body_is_an_openai_error(client: OpenAI) -> None:
    headers = {"Idempotency-Key": "harbour-2"}
    client.images.generate(prompt="a harbour", model="tiny-sd15", size="64x64", extra_headers=headers)
    with pytest.raises(openai.APIStatusError) as caught:
        client.images.generate(prompt="a castle", model="tiny-sd15", size="64x64", extra_headers=headers)
    body = caught.value.body
    assert (
        caught.value.status_code in (409, 422) and isinstance(body, dict) and set(body) >= {"message", "code"}
    )


def test_a_body_over_the_limit_is_an_openai_413(oapi: Api) -> None:
    response = oapi.client.post(
        "/v1/images/generations",
        headers={**oapi.headers(), "content-type": "application/json"},
        content=b'{"prompt": "' + b"x" * (oapi.ctx.settings.max_json_body_bytes + 10) + b'"}',
    )
    assert response.status_code == 413 and set(response.json()["error"]) == {
        "message",
        "type",
        "param",
        "code",
    }
