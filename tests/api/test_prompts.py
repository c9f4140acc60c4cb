"""Prompt tools: a tiny random language model when configured, documented templates otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service import prompts
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


@pytest.fixture
def lm_api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """An app whose prompt tools run the tiny random language model, built offline."""
    settings = make_settings(database_url, tmp_path, models_dir, prompt_model="tiny")
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="lm-user")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def test_improve_without_a_model_uses_the_templates_and_charges(api: Api) -> None:
    sdk = sdk_for(api)
    before = _balance(api)
    result = sdk.prompt.prompt_improve(request={"prompt": "a fox in the snow"}).object
    assert result is not None and result.prompt_generation is not None
    text = result.prompt_generation.prompt
    assert text and text != "a fox in the snow" and text.startswith("a fox in the snow, ")
    assert text == prompts.template_improve("a fox in the snow")  # deterministic, documented
    cost = result.prompt_generation.api_credit_cost
    assert cost == api.ctx.pricing.prompt_improve() > 0
    assert _balance(api) == before - cost
    again = sdk.prompt.prompt_improve(request={"prompt": "a fox in the snow"}).object
    assert (
        again is not None and again.prompt_generation is not None and again.prompt_generation.prompt == text
    )


def test_improve_follows_the_instruction_and_the_video_hint(api: Api) -> None:
    body = {"prompt": "a harbour", "promptInstructions": "make it stormy", "isVideo": True}
    text = api.post("/prompt/improve", json=body).json()["promptGeneration"]["prompt"]
    assert text.startswith("a harbour, make it stormy, ")
    assert any(motion in text for motion in prompts.MOTION)


def test_random_prompts_are_new_each_time(api: Api) -> None:
    sdk = sdk_for(api)
    texts = []
    for _ in range(3):
        result = sdk.prompt.prompt_random().object
        assert result is not None and result.prompt_generation is not None
        assert result.prompt_generation.api_credit_cost == api.ctx.pricing.prompt_random()
        texts.append(result.prompt_generation.prompt)
    assert all(texts) and len(set(texts)) > 1


def test_prompt_tool_errors(api: Api) -> None:
    assert api.post("/prompt/improve", json={"prompt": ""}).status_code == 400
    assert api.post("/prompt/improve", json={"prompt": "   "}).status_code == 400
    assert api.post("/prompt/improve", json={}).status_code == 400
    assert api.post("/prompt/improve", json={"prompt": "x" * 5000}).status_code == 400
    broke, _ = api.new_key("broke", credits=0)
    refused = api.post("/prompt/random", key=broke)
    assert refused.status_code == 402 and refused.json()["code"] == "insufficient-credits"
    assert api.client.post("/api/rest/v1/prompt/random").status_code == 401


def test_enhance_prompt_on_a_generation_uses_the_same_service(api: Api) -> None:
    body = {"enhancePrompt": True, "enhancePromptInstruction": "golden light", "prompt": "a red barn"}
    generation = api.wait(api.generate(**body))
    assert generation["status"] == "COMPLETE"
    assert generation["prompt"] == prompts.template_improve("a red barn", "golden light")
    plain = api.wait(api.generate(prompt="a red barn"))
    assert plain["prompt"] == "a red barn"


def test_the_tiny_language_model_writes_when_configured(lm_api: Api) -> None:
    written = prompts.improve_text(lm_api.ctx, "a fox in the snow")
    assert written.source == "model"
    assert written.text and written.text != "a fox in the snow"
    assert written.text != prompts.template_improve("a fox in the snow")
    response = lm_api.post("/prompt/improve", json={"prompt": "a fox in the snow"})
    assert response.status_code == 200
    assert response.json()["promptGeneration"]["prompt"] == written.text  # seeded by its input
    random_text = lm_api.post("/prompt/random").json()["promptGeneration"]["prompt"]
    assert random_text.strip()
    generation = lm_api.wait(lm_api.generate(prompt="a fox in the snow", enhancePrompt=True))
    assert generation["prompt"] == written.text


def test_an_unusable_model_reply_falls_back_to_the_templates(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Echo:
        def write(self, _system: str, user: str, *, seed: int) -> str:
            return "\x00 Prompt: a fox \ufffd"

    monkeypatch.setattr(prompts, "_model", lambda _ctx: Echo())
    written = prompts.improve_text(api.ctx, "a fox")
    assert written.source == "template" and written.text == prompts.template_improve("a fox")
