"""``client.images.generate`` and ``client.models`` with the official SDK."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

from sfumato.store import credits
from tests.api.conftest import Api
from tests.openai.conftest import openai_for, start


def _picture(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def test_url_answer_is_a_picture_of_the_exact_size(oapi: Api, client: OpenAI) -> None:
    before = time.time()
    result = client.images.generate(prompt="a red fox", model="dall-e-2", size="96x64", n=2)
    assert before - 1 <= result.created <= time.time() + 1
    assert result.size == "96x64" and result.output_format == "png"
    assert result.data is not None and len(result.data) == 2
    for image in result.data:
        assert image.url is not None and image.b64_json is None
        fetched = oapi.client.get(image.url)
        assert fetched.status_code == 200
        assert _picture(fetched.content).size == (96, 64)


def test_b64_json_with_a_seed_is_reproducible(client: OpenAI) -> None:
    def draw(seed: int) -> bytes:
        result = client.images.generate(
            prompt="a lighthouse", model="tiny-sd15", size="64x64", response_format="b64_json",
            extra_body={"seed": seed, "steps": 4},
        )  # fmt: skip
        assert result.data is not None and result.data[0].b64_json is not None
        return base64.b64decode(result.data[0].b64_json)

    first, again, other = draw(7), draw(7), draw(8)
    assert np.array_equal(np.asarray(_picture(first)), np.asarray(_picture(again)))
    assert not np.array_equal(np.asarray(_picture(first)), np.asarray(_picture(other)))


def test_job_is_visible_on_the_leonardo_surface_with_its_parameters(oapi: Api, client: OpenAI) -> None:
    result = client.images.generate(
        prompt="a quiet harbour", model="dall-e-2", size="64x64", quality="low",
        extra_body={"seed": 42, "negative_prompt": "fog", "guidance": 5.5},
    )  # fmt: skip
    assert result.quality == "low"
    [generation] = oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"]
    full = oapi.get(f"/generations/{generation['id']}").json()["generations_by_pk"]
    assert full["status"] == "COMPLETE"
    assert full["seed"] == 42 and full["negativePrompt"] == "fog" and full["guidanceScale"] == 5.5
    default_steps = oapi.ctx.catalog.resolve("tiny-sd15").default_steps  # type: ignore[union-attr]
    assert full["inferenceSteps"] == max(1, default_steps // 2)
    assert full["lineage"]["worker"]


def test_usage_counts_the_prompt_by_the_models_tokenizer_and_the_pictures_by_their_pixels(
    models_dir: Path, client: OpenAI
) -> None:
    from transformers import AutoTokenizer

    prompt, negative = "a lighthouse on a cliff at dusk", "fog"
    result = client.images.generate(
        prompt=prompt,
        model="tiny-sd15",
        size="96x64",
        n=2,
        extra_body={"negative_prompt": negative, "steps": 2},
    )
    tokenizer = AutoTokenizer.from_pretrained(models_dir / "tiny-sd15" / "tokenizer")
    text = len(tokenizer(prompt).input_ids) + len(tokenizer(negative).input_ids)
    usage = result.usage
    assert usage is not None and usage.input_tokens_details.text_tokens == text
    assert usage.input_tokens_details.image_tokens == 0
    assert usage.output_tokens == 2 * (96 // 16) * (64 // 16)  # one token per 16×16 patch, per picture
    assert usage.input_tokens == text and usage.total_tokens == text + usage.output_tokens


def test_output_format_jpeg_comes_inline(client: OpenAI) -> None:
    result = client.images.generate(
        prompt="a red fox", model="tiny-sd15", size="64x64", response_format="b64_json",
        output_format="jpeg", output_compression=50,
    )  # fmt: skip
    assert result.output_format == "jpeg"
    assert result.data is not None and result.data[0].b64_json is not None
    assert _picture(base64.b64decode(result.data[0].b64_json)).format == "JPEG"


def test_models_list_and_retrieve(client: OpenAI) -> None:
    names = {model.id for model in client.models.list()}
    assert {"tiny-sd15", "tiny-sdxl", "dall-e-2", "dall-e-3", "gpt-image-1"} <= names
    assert client.models.retrieve("dall-e-3").owned_by == "sfumato"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"size": "huge"}, "size"),
        ({"model": "no-such-model"}, "model"),
        ({"n": 0}, "n"),
        ({"background": "transparent"}, "background"),
        ({"quality": "ultra"}, "quality"),
    ],
)
def test_bad_request_is_an_openai_400_and_charges_nothing(
    oapi: Api, client: OpenAI, arguments: dict[str, object], param: str
) -> None:
    before = _balance(oapi)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="a red fox", **arguments)  # type: ignore[arg-type]
    assert caught.value.status_code == 400
    body = caught.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}
    assert body["type"] == "invalid_request_error" and body["param"] == param
    assert _balance(oapi) == before


def test_a_size_the_model_cannot_draw_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="a red fox", model="tiny-sd15", size="65x64")
    assert "65" in caught.value.message


def test_exhausted_balance_is_openais_insufficient_quota(oapi: Api) -> None:
    key, _user_id = oapi.new_key("pauper", credits=0)
    with pytest.raises(openai.RateLimitError) as caught:
        openai_for(oapi, key).images.generate(prompt="a red fox", model="tiny-sd15", size="64x64")
    assert caught.value.status_code == 429 and caught.value.code == "insufficient_quota"


def test_a_wrong_key_is_openais_401(oapi: Api) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        openai_for(oapi, "not-a-key").models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"


def test_leonardo_surface_keeps_its_own_error_shape(oapi: Api) -> None:
    response = oapi.post("/generations", json={"modelId": "nope", "prompt": "x"})
    assert response.status_code == 400 and set(response.json()) == {"error", "path", "code"}


def test_no_worker_times_out_refunded(database_url: str, tmp_path: Path, models_dir: Path) -> None:
    for api in start(database_url, tmp_path, models_dir, with_worker=False, openai_timeout_seconds=0.3):
        before = _balance(api)
        with pytest.raises(openai.APIStatusError) as caught:
            openai_for(api).images.generate(prompt="a red fox", model="tiny-sd15", size="64x64")
        assert caught.value.status_code == 504 and caught.value.code == "timeout"
        assert _balance(api) == before
        [generation] = api.get(f"/generations/user/{api.user_id}").json()["generations"]
        assert generation["status"] == "FAILED"
        with api.ctx.db.read() as session:
            kinds = [e.kind for e in credits.entries_for(session, subject_id=generation["id"])]
        assert sorted(kinds) == ["debit", "refund"]


def test_a_blocked_prompt_is_openais_content_policy_violation(oapi: Api, client: OpenAI) -> None:
    oapi.ctx.settings.resolved_policy_file.write_text('[categories.violence]\nterms = ["forbidden fruit"]\n')
    before = _balance(oapi)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(prompt="a forbidden fruit", model="tiny-sd15", size="64x64")
    assert caught.value.code == "content_policy_violation"
    assert _balance(oapi) == before
    assert oapi.get(f"/generations/user/{oapi.user_id}").json()["generations"] == []
    client.images.generate(prompt="a ripe fruit", model="tiny-sd15", size="64x64")  # others still pass
