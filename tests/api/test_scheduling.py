"""Scheduling as a client sees it: a full queue answers 429 and charges nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings


@pytest.fixture
def idle_api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    """An API with no worker, so queued jobs stay queued, and room for two per account."""
    settings = make_settings(database_url, tmp_path, models_dir, max_queued_per_account=2)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=False)) as client:
        issued = issue_key(ctx, username="alice", credits_amount=1000)
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def test_a_full_queue_answers_429_and_charges_nothing(idle_api: Api) -> None:
    idle_api.generate()
    idle_api.generate()
    balance = _balance(idle_api)
    body = {"modelId": "tiny-sd15", "prompt": "one too many", "width": 64, "height": 64, "num_images": 1}
    response = idle_api.post("/generations", json=body)
    assert response.status_code == 429
    error = response.json()
    assert error["code"] == "rate-limited"
    assert "2 jobs waiting" in error["error"]
    assert _balance(idle_api) == balance
    listed = idle_api.get(f"/generations/user/{idle_api.user_id}", params={"limit": 10}).json()
    assert len(listed["generations"]) == 2


def test_the_queue_cap_is_per_account(idle_api: Api) -> None:
    idle_api.generate()
    idle_api.generate()
    other_key, _ = idle_api.new_key("bob", credits=100)
    idle_api.generate(key=other_key)  # alice's full queue leaves bob's room alone
    idle_api.generate(key=other_key)
    body = {"modelId": "tiny-sd15", "prompt": "one too many", "width": 64, "height": 64, "num_images": 1}
    for key in (None, other_key):  # each account now has its two waiting, and no more
        refused = idle_api.post("/generations", json=body, key=key)
        assert refused.status_code == 429, refused.text
        assert "2 jobs waiting" in refused.json()["error"]
