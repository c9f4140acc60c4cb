"""Rate limits (in memory and in Redis) and operator guardrails, through the HTTP API."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from leonardo_ai_sdk.models import errors as sdk_errors

from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key, list_keys
from tests.api.conftest import Api, make_settings
from tests.api.sdk import sdk_for

SMALL = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10}

MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[MakeApi]:
    """Apps (no worker: these tests only need requests accepted or refused) with settings of their own."""
    with ExitStack() as stack:

        def make(**overrides: Any) -> Api:
            home = tmp_path / uuid.uuid4().hex[:8]
            settings = make_settings(database_url, home, models_dir, **overrides)
            ctx = build_context(settings)
            client = stack.enter_context(TestClient(create_app(settings, context=ctx, with_worker=False)))
            issued = issue_key(ctx, username=f"user-{uuid.uuid4().hex[:8]}")
            return Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)

        yield make


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_per_key_limit_answers_429_with_retry_after(
    make_api: MakeApi, store: str, request: pytest.FixtureRequest
) -> None:
    redis_url = request.getfixturevalue("redis_url") if store == "redis" else None
    api = make_api(rate_limit_per_key="3/minute", redis_url=redis_url)
    remaining = []
    for _ in range(3):
        response = api.get("/me")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    refused = api.post("/generations", json=SMALL)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate-limited" and "per API key" in refused.json()["error"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert api.get(f"/generations/user/{api.user_id}").status_code == 429
    # another key is counted on its own
    other, _ = api.new_key("someone-else")
    assert api.get("/me", key=other).status_code == 200


def test_per_account_limit_spans_the_account_keys(make_api: MakeApi) -> None:
    api = make_api(rate_limit_per_key="100/minute", rate_limit_per_account="4/minute")
    username = next(k.username for k in list_keys(api.ctx) if k.user_id == api.user_id)
    second = issue_key(api.ctx, username=username).api_key
    statuses = [api.get("/me", key=key).status_code for key in (api.key, second, api.key, second, second)]
    assert statuses == [200, 200, 200, 200, 429]
    assert "per account" in api.get("/me").json()["error"]


def test_redis_counters_are_shared_by_every_api_node(make_api: MakeApi, redis_url: str) -> None:
    node_a = make_api(rate_limit_per_key="4/minute", redis_url=redis_url)
    node_b = make_api(rate_limit_per_key="4/minute", redis_url=redis_url)  # same database, own process state
    statuses = [(node_a if i % 2 else node_b).get("/me", key=node_a.key).status_code for i in range(5)]
    assert statuses == [200, 200, 200, 200, 429]


def test_an_unreachable_redis_lets_requests_through(make_api: MakeApi) -> None:
    api = make_api(rate_limit_per_key="1/minute", redis_url="redis://127.0.0.1:1/0")
    assert [api.get("/me").status_code for _ in range(3)] == [200, 200, 200]


def test_the_sdk_sees_the_429(make_api: MakeApi) -> None:
    api = make_api(rate_limit_per_key="1/minute")
    sdk = sdk_for(api)
    sdk.user.get_user_self()
    with pytest.raises(sdk_errors.SDKError) as raised:
        sdk.user.get_user_self()
    assert raised.value.status_code == 429


@pytest.mark.parametrize(
    ("overrides", "body", "fragment"),
    [
        ({"max_images": 2}, {"num_images": 3}, "at most 2"),
        ({"max_resolution": 256}, {"width": 512, "height": 256}, "at most 256 px"),
        ({"max_steps": 20}, {"num_inference_steps": 30}, "at most 20"),
    ],
)
def test_guardrails_refuse_before_anything_is_queued_or_charged(
    make_api: MakeApi, overrides: dict[str, Any], body: dict[str, Any], fragment: str
) -> None:
    api = make_api(**overrides)
    before = api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"]
    response = api.post("/generations", json={**SMALL, **body})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "limit-exceeded" and fragment in response.json()["error"]
    assert api.get(f"/generations/user/{api.user_id}").json() == {"generations": []}
    assert api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"] == before
    assert api.post("/generations", json=SMALL).status_code == 200  # within the limits: accepted


def test_daily_budget_refuses_the_job_that_would_exceed_it(make_api: MakeApi) -> None:
    api = make_api(daily_credit_budget=3)
    accepted = [api.post("/generations", json=SMALL) for _ in range(3)]
    assert [r.status_code for r in accepted] == [200, 200, 200]
    assert sum(r.json()["sdGenerationJob"]["apiCreditCost"] for r in accepted) == 3
    before = api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"]
    refused = api.post("/generations", json=SMALL)
    assert refused.status_code == 429 and refused.json()["code"] == "daily-budget-exceeded"
    assert 0 < int(refused.headers["retry-after"]) <= 86400
    assert api.get("/me").json()["user_details"][0]["apiSubscriptionTokens"] == before
    assert len(api.get(f"/generations/user/{api.user_id}").json()["generations"]) == 3
    # deleting a queued generation refunds it, and the refund gives the budget back
    api.delete(f"/generations/{accepted[0].json()['sdGenerationJob']['generationId']}")
    assert api.post("/generations", json=SMALL).status_code == 200


def test_a_malformed_limit_setting_is_refused_at_start(tmp_path: Path) -> None:
    from sfumato.errors import InvalidRequest
    from sfumato.service.rate_limits import RateLimiter

    with pytest.raises(InvalidRequest, match="SFUMATO_RATE_LIMIT_PER_KEY"):
        RateLimiter.from_settings(Settings(home=tmp_path, rate_limit_per_key="lots"))


def test_the_lean_submit_path_answers_as_the_route_does(make_api: MakeApi) -> None:
    """A plainly valid POST /generations is served by the lean path; any other JSON type goes
    through the route. Both answer, count and charge alike, and a body the lean path cannot
    take is refused with the route's words."""
    api = make_api(rate_limit_per_key="10/minute")
    lean = api.post("/generations", json={**SMALL, "seed": 1})
    routed = api.client.post(
        "/api/rest/v1/generations",
        content=json.dumps({**SMALL, "seed": 2}),
        headers={**api.headers(), "content-type": "application/vnd.api+json"},  # left to the route
    )
    for response, remaining in ((lean, "9"), (routed, "8")):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert (response.headers["x-ratelimit-limit"], response.headers["x-ratelimit-remaining"]) == (
            "10",
            remaining,
        )
    jobs = [response.json()["sdGenerationJob"] for response in (lean, routed)]
    assert [job["apiCreditCost"] for job in jobs] == [jobs[0]["apiCreditCost"]] * 2
    assert [sorted(job) for job in jobs] == [["apiCreditCost", "cost", "generationId"]] * 2
    again = api.post("/generations", json={**SMALL, "seed": 1})  # a duplicate: the same generation, free
    assert again.json()["sdGenerationJob"]["generationId"] == jobs[0]["generationId"]
    assert again.json()["sdGenerationJob"]["apiCreditCost"] == 0
    malformed = api.client.post(
        "/api/rest/v1/generations",
        content=b'{"prompt": ',
        headers={**api.headers(), "content-type": "application/json"},
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "invalid-json")
    invalid = api.post("/generations", json={**SMALL, "width": 65})
    assert (invalid.status_code, invalid.json()["path"]) == (400, "$.width")


def test_me_limits_reports_the_limits_and_what_is_in_use(make_api: MakeApi) -> None:
    api = make_api(daily_credit_budget=5, max_queued_per_account=4, rate_limit_per_key="7/second;90/minute")
    fresh = api.get("/me/limits").json()["limits"]
    assert fresh["rateLimitPerKey"] == ["7 per 1 second", "90 per 1 minute"]
    assert fresh["rateLimitPerAccount"] == ["200 per 1 second"]
    assert (fresh["dailyCreditBudget"], fresh["creditsSpentToday"]) == (5, 0)
    assert (fresh["maxQueuedJobs"], fresh["queuedJobs"]) == (4, 0)
    assert fresh["concurrencySlots"] == api.get("/me").json()["user_details"][0]["apiConcurrencySlots"]
    cost = api.post("/generations", json=SMALL).json()["sdGenerationJob"]["apiCreditCost"]
    used = api.get("/me/limits").json()["limits"]
    assert (used["creditsSpentToday"], used["queuedJobs"]) == (cost, 1)  # no worker here: it waits
    assert api.get("/me/limits", key="sfu_wrong").status_code == 401


def test_a_refused_body_counts_and_a_spent_limit_answers_before_the_body_is_judged(
    make_api: MakeApi,
) -> None:
    """Every authenticated POST /generations counts, the ones whose body is refused too: a
    caller cannot send malformed requests past its limit, and once the limit is spent the
    answer is the 429 whatever the body."""
    api = make_api(rate_limit_per_key="3/minute")
    invalid = api.post("/generations", json={**SMALL, "width": 65})  # handed on to the route
    assert invalid.status_code == 400
    not_json = api.client.post(
        "/api/rest/v1/generations",
        content=b"width=64",
        headers={**api.headers(), "content-type": "application/x-www-form-urlencoded"},
    )
    assert not_json.status_code == 400
    accepted = api.post("/generations", json=SMALL)
    assert (accepted.status_code, accepted.headers["x-ratelimit-remaining"]) == (200, "0")
    for body in ({**SMALL, "width": 65}, SMALL):
        refused = api.post("/generations", json=body)
        assert (refused.status_code, refused.json()["code"]) == (429, "rate-limited")
