"""Every job has a price: debited at creation, refunded if the job fails."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from sfumato.service.pricing import image_generation_cost
from sfumato.store import credits
from tests.api.conftest import Api, make_settings


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def test_me_reports_the_account(api: Api) -> None:
    details = api.get("/me").json()["user_details"][0]
    assert details["user"] == {"id": api.user_id, "username": "alice"}
    assert details["apiSubscriptionTokens"] == api.ctx.settings.default_credits
    assert details["apiConcurrencySlots"] == api.ctx.settings.concurrency_slots


def test_cost_is_debited_once_and_matches_the_price(api: Api) -> None:
    before = _balance(api)
    response = api.post("/generations", json={"modelId": "tiny-sd15", "width": 64, "height": 64,
                                              "num_images": 2, "num_inference_steps": 10})  # fmt: skip
    job = response.json()["sdGenerationJob"]
    expected = image_generation_cost(family="sd15", width=64, height=64, steps=10, num_images=2)
    assert job["apiCreditCost"] == expected and job["cost"] == {
        "amount": str(expected),
        "unit": "CREDITS",
    }
    assert _balance(api) == before - expected
    assert api.wait(job["generationId"])["status"] == "COMPLETE"
    assert _balance(api) == before - expected
    with api.ctx.db.read() as session:
        entries = credits.entries_for(session, subject_id=job["generationId"])
        assert [(e.kind, e.amount) for e in entries] == [("debit", -expected)]


def test_insufficient_credits_is_refused_without_side_effects(api: Api) -> None:
    key, user_id = api.new_key("pauper", credits=0)
    response = api.post("/generations", json={"modelId": "tiny-sd15", "width": 64, "height": 64}, key=key)
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient-credits"
    assert api.get(f"/generations/user/{user_id}", key=key).json() == {"generations": []}
    assert _balance(api, key) == 0


def test_failed_job_is_refunded_with_its_reason(database_url: str, tmp_path: Path, models_dir: Path) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        f"""
[models.broken]
id = "5e0d7a55-0000-4000-8000-00000000b0b0"
name = "Broken model"
description = "weights that cannot load"
family = "sd15"
source = "{broken}"
sd_version = "v1_5"
default_steps = 10
default_guidance = 7.0
default_width = 64
default_height = 64
max_steps = 60
featured = false
nsfw = false
"""
    )
    settings = make_settings(database_url, tmp_path, models_dir, catalog_file=catalog, max_attempts=2)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="dave")
        api = Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
        before = _balance(api)
        generation_id = api.generate(modelId="broken")
        generation = api.wait(generation_id)  # the refund may land before a balance read here
        assert generation["status"] == "FAILED"
        assert generation["failureReason"]
        assert _balance(api) == before
        with ctx.db.read() as session:
            entries = [(e.kind, e.amount) for e in credits.entries_for(session, subject_id=generation_id)]
        assert [kind for kind, _ in entries] == ["debit", "refund"]
        (_, debit), (_, refund) = entries
        assert debit < 0 and refund == -debit  # charged at submission, all of it given back
