"""One admission path: every charged request is recorded with what it charged for, under the same rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from sfumato.store import credits
from sfumato.store.clock import utcnow
from sfumato.store.models import CreditEntry, IdempotencyRecord, Job, Variation
from tests.api.canvas import canvas_app, data_url, noise
from tests.api.conftest import Api

BODY = {"prompt": "a red fox", "modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1,
        "num_inference_steps": 10}  # fmt: skip


def _debits(api: Api) -> list[tuple[str | None, str | None]]:
    with api.ctx.db.read() as session:
        rows = session.scalars(
            select(CreditEntry).where(CreditEntry.kind == credits.DEBIT).order_by(CreditEntry.id)
        )
        return [(row.subject_kind, row.subject_id) for row in rows]


@pytest.fixture
def tiny_api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """An API whose realtime model, upscaler and segmenter are the tiny ones."""
    with canvas_app(database_url, tmp_path, models_dir) as api:
        yield api


def test_the_ledger_names_what_each_charge_was_for(tiny_api: Api) -> None:
    api = tiny_api
    generation_id = api.generate()
    image_id = api.wait(generation_id)["generated_images"][0]["id"]
    variation = api.post("/variations/upscale", json={"id": image_id})
    assert variation.status_code == 200, variation.text
    variation_id = variation.json()["sdUpscaleJob"]["id"]
    improved = api.post("/prompt/improve", json={"prompt": "a fox"})
    assert improved.status_code == 200, improved.text
    canvas = {"prompt": "a fox", "imageDataUrl": data_url(noise()), "width": 64, "height": 64}
    assert api.post("/generations-lcm", json=canvas).status_code == 200
    kinds = [kind for kind, _ in _debits(api)]
    assert kinds == ["generation", "variation", "prompt", "realtime"]
    assert _debits(api)[:2] == [("generation", generation_id), ("variation", variation_id)]


def test_a_variation_over_the_queue_cap_writes_nothing(tiny_api: Api) -> None:
    api = tiny_api
    generation_id = api.generate()
    image_id = api.wait(generation_id)["generated_images"][0]["id"]
    api.ctx.settings.max_queued_per_account = 0  # every further job is over the cap
    before = _debits(api)
    refused = api.post("/variations/upscale", json={"id": image_id})
    assert refused.status_code == 429 and "jobs waiting" in refused.json()["error"], refused.text
    with api.ctx.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Variation)) == 0
        assert session.scalar(select(func.count()).select_from(Job).where(Job.kind == "variation")) == 0
    assert _debits(api) == before


def test_a_prompt_tool_is_held_to_the_daily_budget_like_a_generation(api: Api) -> None:
    api.ctx.settings.daily_credit_budget = 1
    refused = api.post("/prompt/improve", json={"prompt": "a fox"})
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "daily-budget-exceeded"
    assert _debits(api) == []


def _keyed(api: Api, key: str) -> Any:
    return api.client.post("/api/rest/v1/generations", json=BODY,
                           headers={**api.headers(), "Idempotency-Key": key})  # fmt: skip


def test_a_retry_after_a_crash_before_the_response_was_stored_gets_the_first_generation(api: Api) -> None:
    first = _keyed(api, "order-7")
    assert first.status_code == 200
    generation_id = first.json()["sdGenerationJob"]["generationId"]
    with api.ctx.db.transaction() as session:
        # As a process that died after committing the generation, before storing the response, leaves it.
        record = session.scalars(select(IdempotencyRecord).where(IdempotencyRecord.key == "order-7")).one()
        assert (record.subject_kind, record.subject_id) == ("generation", generation_id)
        record.status_code, record.response_body = None, None
        record.created_at = utcnow() - timedelta(minutes=5)
    retry = _keyed(api, "order-7")
    assert retry.status_code == 200, retry.text
    assert retry.json()["sdGenerationJob"]["generationId"] == generation_id
    assert _debits(api) == [("generation", generation_id)]  # charged once
    listing = api.get(f"/generations/user/{api.user_id}?limit=10").json()["generations"]
    assert [g["id"] for g in listing] == [generation_id]
