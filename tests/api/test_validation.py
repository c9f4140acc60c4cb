"""Bad input gets a 4xx in Leonardo's error shape and changes nothing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings


def _balance(api: Api, key: str | None = None) -> int:
    return int(api.get("/me", key=key).json()["user_details"][0]["apiSubscriptionTokens"])


def _generation_count(api: Api) -> int:
    return len(api.get(f"/generations/user/{api.user_id}", params={"limit": 100}).json()["generations"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"width": 30}, "width"),
        ({"width": 1544}, "width"),
        ({"height": 100}, "height"),
        ({"num_images": 0}, "num_images"),
        ({"num_images": 9}, "num_images"),
        ({"num_inference_steps": 61}, "num_inference_steps"),
        ({"guidance_scale": 25}, "guidance_scale"),
        ({"scheduler": "NOT_A_SCHEDULER"}, "scheduler"),
        ({"presetStyle": "WATERCOLOUR"}, "presetStyle"),
        ({"seed": -1}, "seed"),
        ({"num_images": "many"}, "num_images"),
    ],
)
def test_out_of_range_fields_are_refused(api: Api, body: dict, field: str) -> None:
    before = _balance(api)
    response = api.post("/generations", json={"prompt": "x", "modelId": "tiny-sd15", **body})
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) == {"error", "path", "code"}
    assert field in error["error"] and error["path"] == f"$.{field}"
    assert _balance(api) == before and _generation_count(api) == 0


def test_more_than_four_images_above_768_is_refused(api: Api) -> None:
    response = api.post(
        "/generations", json={"modelId": "tiny-sd15", "width": 1024, "height": 64, "num_images": 5}
    )
    assert response.status_code == 400
    assert "between 1 and 4" in response.json()["error"]


def test_unknown_model_is_refused(api: Api) -> None:
    response = api.post("/generations", json={"modelId": "00000000-0000-0000-0000-000000000000"})
    assert response.status_code == 400
    assert "platformModels" in response.json()["error"]


def test_model_without_weights_says_how_to_get_them(api: Api) -> None:
    response = api.post("/generations", json={"modelId": "sdxl", "width": 64, "height": 64})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "model-unavailable"
    assert "sfumato models pull" in body["error"]
    # The SDK's default model id is an alias of a real (absent) model: same answer.
    response = api.post("/generations", json={"prompt": "cat"})
    assert response.status_code == 400 and response.json()["code"] == "model-unavailable"


def test_malformed_json_is_a_400(api: Api) -> None:
    response = api.client.post(
        "/api/rest/v1/generations",
        content=b'{"prompt": "cat", ',
        headers={**api.headers(), "content-type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid-json"
    assert response.json()["error"].startswith("Malformed JSON body: ")


def test_unsupported_features_are_refused_not_ignored(api: Api) -> None:
    response = api.post("/generations", json={"modelId": "tiny-sd15", "controlNet": True})
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported-feature"


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer not-a-key"])
def test_missing_or_bad_auth_is_401(api: Api, header: str | None) -> None:
    headers = {"authorization": header} if header else {}
    for method, path in [("GET", "/me"), ("POST", "/generations"), ("GET", "/platformModels")]:
        response = api.client.request(method, "/api/rest/v1" + path, headers=headers, json={})
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "access-denied"


def test_revoked_key_is_refused(api: Api) -> None:
    from sfumato.service.keys import list_keys, revoke_key

    key, _ = api.new_key("carol")
    assert api.get("/me", key=key).status_code == 200
    carol = next(k for k in list_keys(api.ctx) if k.username == "carol")
    revoke_key(api.ctx, carol.prefix)
    assert api.get("/me", key=key).status_code == 401


def test_unknown_route_is_404_in_leonardo_shape(api: Api) -> None:
    response = api.get("/no-such-thing")
    assert response.status_code == 404
    assert set(response.json()) == {"error", "path", "code"}


def test_a_key_revoked_elsewhere_stops_working_within_the_cache_time(
    database_url: str, tmp_path: Path, models_dir: Path
) -> None:
    """Another process (the CLI, another API node) revokes the key: this node trusts its
    check for at most ``key_cache_seconds``, then refuses."""
    from sfumato.service.keys import list_keys, revoke_key

    settings = make_settings(database_url, tmp_path, models_dir, key_cache_seconds=2)
    node, elsewhere = build_context(settings), build_context(settings)
    with TestClient(create_app(settings, context=node, with_worker=False)) as client:
        key = issue_key(node, username="dave").api_key
        headers = {"authorization": f"Bearer {key}"}
        assert client.get("/api/rest/v1/me", headers=headers).status_code == 200
        revoke_key(elsewhere, next(k.prefix for k in list_keys(elsewhere) if k.username == "dave"))
        assert client.get("/api/rest/v1/me", headers=headers).status_code == 200  # still trusted here
        deadline = time.monotonic() + 10
        while client.get("/api/rest/v1/me", headers=headers).status_code == 200:
            assert time.monotonic() < deadline, "the revoked key still works after its cache time"
            time.sleep(0.05)
        assert client.get("/api/rest/v1/me", headers=headers).status_code == 401
    elsewhere.close()
