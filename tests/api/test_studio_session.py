"""The studio's sign-in: an API key exchanged for an HttpOnly session cookie, accepted by the
same public routes as a key, with a CSRF token required on every request that changes anything."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from sfumato.app import create_app
from sfumato.cli import app as cli
from sfumato.runtime import build_context
from sfumato.service.context import Context
from sfumato.service.keys import issue_key, revoke_key
from sfumato.store.migrate import upgrade
from sfumato.store.models import IdempotencyRecord
from tests.api.conftest import BASE, Api, make_settings

GENERATION = {"modelId": "tiny-sd15", "prompt": "a red fox", "width": 64, "height": 64, "num_images": 1}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, models_dir: Path) -> Iterator[tuple[FastAPI, Context]]:
    """One app without a worker for the module (sessions and the gate need no pictures drawn)."""
    home = tmp_path_factory.mktemp("studio-session")
    database_url = f"sqlite:///{home / 'sfumato.db'}"
    upgrade(database_url)
    settings = make_settings(database_url, home, models_dir, webhook_allow_hosts="127.0.0.1/32")
    ctx = build_context(settings)
    application = create_app(settings, context=ctx, with_worker=False)
    with TestClient(application):  # its start-up and shutdown, once
        yield application, ctx


@pytest.fixture
def studio(app: tuple[FastAPI, Context]) -> Api:
    """A new account and a browser of its own (an empty cookie jar) on the shared app."""
    application, ctx = app
    issued = issue_key(ctx, username=f"alice-{uuid.uuid4().hex[:8]}")
    return Api(client=TestClient(application), ctx=ctx, key=issued.api_key, user_id=issued.user_id)


def sign_in(studio: Api, key: str | None = None) -> str:
    response = studio.client.post("/studio/session", json={"apiKey": key or studio.key})
    assert response.status_code == 200, response.text
    return str(response.json()["csrfToken"])


def test_sign_in_sets_an_httponly_strict_cookie_and_never_echoes_the_key(studio: Api) -> None:
    response = studio.client.post("/studio/session", json={"apiKey": studio.key})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("sfumato_studio=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https requests get Secure
    body = response.json()
    assert body["user"]["id"] == studio.user_id and body["user"]["username"].startswith("alice-")
    assert len(body["csrfToken"]) == 64
    assert studio.key not in response.text and studio.key not in cookie


def test_the_cookie_opens_the_public_api_and_unsafe_requests_need_the_csrf_token(studio: Api) -> None:
    csrf = sign_in(studio)
    me = studio.client.get(f"{BASE}/me")  # no Authorization header: the cookie only
    assert me.status_code == 200
    assert me.json()["user_details"][0]["user"]["id"] == studio.user_id

    refused = studio.client.post(f"{BASE}/generations", json=GENERATION)
    assert refused.status_code == 403
    assert refused.json()["code"] == "csrf"
    wrong = studio.client.post(f"{BASE}/generations", json=GENERATION, headers={"x-csrf-token": "0" * 64})
    assert wrong.status_code == 403
    odd_header = {"x-csrf-token": "é".encode("latin-1")}  # not ASCII: still a plain 403
    odd = studio.client.post(f"{BASE}/generations", json=GENERATION, headers=odd_header)
    assert odd.status_code == 403

    created = studio.client.post(f"{BASE}/generations", json=GENERATION, headers={"x-csrf-token": csrf})
    assert created.status_code == 200, created.text
    generation_id = created.json()["sdGenerationJob"]["generationId"]
    # The same generation, read with the key: one account, one API.
    assert studio.get(f"/generations/{generation_id}").json()["generations_by_pk"]["prompt"] == "a red fox"
    # The OpenAI surface is behind the same gate.
    assert studio.client.get("/v1/models").status_code == 200


def test_a_reloaded_page_gets_its_csrf_token_back_from_the_cookie(studio: Api) -> None:
    csrf = sign_in(studio)
    again = studio.client.get("/studio/session")
    assert again.status_code == 200 and again.json()["csrfToken"] == csrf
    studio.client.cookies.clear()
    assert studio.client.get("/studio/session").status_code == 401


def test_another_sites_odd_cookie_does_not_hide_the_session(studio: Api) -> None:
    sign_in(studio)
    token = studio.client.cookies.get("sfumato_studio")
    studio.client.cookies.clear()
    odd = f'theme="dark; x\\"; bad cookie; sfumato_studio={token}; z=1'
    assert studio.client.get(f"{BASE}/me", headers={"cookie": odd}).status_code == 200


def test_sign_out_ends_the_session_everywhere(studio: Api) -> None:
    csrf = sign_in(studio)
    cookie = studio.client.cookies.get("sfumato_studio")
    assert studio.client.delete("/studio/session").status_code == 403  # a CSRF token is needed here too
    out = studio.client.delete("/studio/session", headers={"x-csrf-token": csrf})
    assert out.status_code == 200
    assert 'sfumato_studio=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    # Even a copy of the old cookie no longer opens anything.
    assert cookie is not None
    studio.client.cookies.set("sfumato_studio", cookie)
    replay = studio.client.get(f"{BASE}/me")
    assert replay.status_code == 401
    assert replay.json()["code"] == "access-denied"


def test_revoking_the_key_ends_its_sessions(studio: Api) -> None:
    key, _ = studio.new_key(f"bob-{uuid.uuid4().hex[:8]}")
    sign_in(studio, key)
    assert studio.client.get(f"{BASE}/me").status_code == 200
    revoke_key(studio.ctx, key[:12])
    assert studio.client.get(f"{BASE}/me").status_code == 401


def test_a_bad_key_or_body_is_refused_in_the_error_shape(studio: Api) -> None:
    bad = studio.client.post("/studio/session", json={"apiKey": "sfu_not-a-key"})
    assert bad.status_code == 401 and bad.json()["code"] == "access-denied"
    assert "set-cookie" not in bad.headers
    empty = studio.client.post("/studio/session", json={})
    assert empty.status_code == 400 and "apiKey" in empty.json()["error"]
    assert studio.client.get(f"{BASE}/me").status_code == 401  # nothing signed in


def test_an_authorization_header_is_judged_alone(studio: Api) -> None:
    sign_in(studio)
    response = studio.client.get(f"{BASE}/me", headers={"authorization": "Bearer sfu_wrong"})
    assert response.status_code == 401  # a wrong key is not rescued by the cookie


def test_the_key_never_reaches_the_logs(studio: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        csrf = sign_in(studio)
        studio.client.get(f"{BASE}/me")
        studio.client.delete("/studio/session", headers={"x-csrf-token": csrf})
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "/studio/session" in logged  # the requests were logged …
    assert studio.key not in logged  # … without the key


def test_the_page_and_its_assets_are_served_from_the_package(studio: Api) -> None:
    page = studio.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert '<script type="module" src="/studio/assets/js/main.js">' in page.text
    script = studio.client.get("/studio/assets/js/main.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert studio.client.get("/studio/assets/js/nothing.js").status_code == 404


def test_the_account_reads_its_own_ledger_and_keys_only(studio: Api) -> None:
    username = studio.get("/me").json()["user_details"][0]["user"]["username"]
    second_key = issue_key(studio.ctx, username=username, name="laptop").api_key
    other_key, _ = studio.new_key(f"bob-{uuid.uuid4().hex[:8]}", credits=7)
    created = studio.post("/generations", json=GENERATION)
    assert created.status_code == 200

    job = created.json()["sdGenerationJob"]
    ledger = studio.get("/me/credit-ledger").json()["credit_ledger"]
    balance = studio.get("/me").json()["user_details"][0]["apiSubscriptionTokens"]
    assert ledger[0]["kind"] == "debit" and ledger[0]["amount"] == -job["apiCreditCost"]
    assert ledger[0]["subjectId"] == job["generationId"]
    assert ledger[0]["balanceAfter"] == balance
    assert ledger[-1]["kind"] == "grant" and sum(line["amount"] for line in ledger) == balance
    bob = studio.get("/me/credit-ledger", key=other_key).json()["credit_ledger"]
    assert [line["amount"] for line in bob] == [7]

    keys = studio.get("/me/api-keys").json()["api_keys"]
    assert [key["name"] for key in keys] == ["default", "laptop"]
    assert [key["current"] for key in keys] == [True, False]
    assert keys[1]["prefix"] == second_key[:12]
    text = studio.get("/me/api-keys").text
    assert second_key not in text and studio.key not in text  # prefixes only
    bobs = studio.get("/me/api-keys", key=other_key).json()["api_keys"]
    assert [key["name"] for key in bobs] == ["default"]
    assert studio.get("/me/credit-ledger?limit=0").status_code == 400


def test_the_cli_prints_the_same_ledger_lines_the_api_answers(
    studio: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    username = studio.get("/me").json()["user_details"][0]["user"]["username"]
    assert studio.post("/generations", json=GENERATION).status_code == 200  # a debit with its subject
    settings = studio.ctx.settings
    monkeypatch.setenv("SFUMATO_HOME", str(settings.home))
    monkeypatch.setenv("SFUMATO_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SFUMATO_MODELS_DIR", str(settings.resolved_models_dir))

    result = CliRunner().invoke(cli, ["credits", "history", "--user", username, "--json"])
    assert result.exit_code == 0, result.output
    printed = [json.loads(line) for line in result.output.splitlines()]
    answered = studio.get("/me/credit-ledger").json()["credit_ledger"]
    assert [line["kind"] for line in answered] == ["debit", "grant"]
    assert printed == answered


def test_the_page_issues_and_revokes_keys_and_points_them_at_a_webhook(studio: Api) -> None:
    csrf = {"x-csrf-token": sign_in(studio)}
    keys = f"{BASE}/me/api-keys"
    assert studio.client.post(keys, json={"name": "laptop"}).status_code == 403  # CSRF, as everywhere

    made = studio.client.post(keys, json={"name": "laptop"}, headers=csrf)
    assert made.status_code == 200, made.text
    laptop = made.json()["api_key"]
    assert laptop["apiKey"].startswith("sfu_") and laptop["prefix"] == laptop["apiKey"][:12]
    assert "webhookSecret" not in laptop and laptop["current"] is False
    me = studio.get("/me", key=laptop["apiKey"]).json()["user_details"][0]["user"]
    assert me["id"] == studio.user_id  # a key of the same account, working at once

    hook = f"{keys}/{laptop['id']}/webhook"
    first = studio.client.put(
        hook, json={"webhookUrl": "http://127.0.0.1:9/hooks", "webhookKey": "k1"}, headers=csrf
    )
    assert first.status_code == 200, first.text
    secret = first.json()["api_key"]["webhookSecret"]
    assert secret.startswith("whsec_") and first.json()["api_key"]["webhookUrl"] == "http://127.0.0.1:9/hooks"
    moved = studio.client.put(hook, json={"webhookUrl": "http://127.0.0.1:9/other"}, headers=csrf).json()
    assert "webhookSecret" not in moved["api_key"]  # the receiver's secret still holds
    listed = studio.client.get(keys)
    assert [k["webhookUrl"] for k in listed.json()["api_keys"] if k["id"] == laptop["id"]] == [
        "http://127.0.0.1:9/other"
    ]
    assert laptop["apiKey"] not in listed.text and secret not in listed.text  # shown once only
    cleared = studio.client.put(hook, json={"webhookUrl": None}, headers=csrf).json()["api_key"]
    assert "webhookUrl" not in cleared

    refused = {
        "private host": studio.client.put(hook, json={"webhookUrl": "http://10.1.2.3/x"}, headers=csrf),
        "key, no URL": studio.client.put(hook, json={"webhookUrl": None, "webhookKey": "k"}, headers=csrf),
        "blank name": studio.client.post(keys, json={"name": "  "}, headers=csrf),
        "no name": studio.client.post(keys, json={}, headers=csrf),
    }
    assert {why: r.status_code for why, r in refused.items()} == dict.fromkeys(refused, 400)
    assert refused["private host"].json()["code"] == "invalid-webhook-url"

    other_key, _ = studio.new_key(f"bob-{uuid.uuid4().hex[:8]}")
    bobs = studio.get("/me/api-keys", key=other_key).json()["api_keys"][0]["id"]
    assert studio.client.delete(f"{keys}/{bobs}", headers=csrf).status_code == 404  # not this account's
    assert (
        studio.client.put(f"{keys}/{bobs}/webhook", json={"webhookUrl": None}, headers=csrf).status_code
        == 404
    )

    revoked = studio.client.delete(f"{keys}/{laptop['id']}", headers=csrf)
    assert revoked.status_code == 200 and revoked.json()["api_key"]["revoked"] is True
    assert studio.get("/me", key=laptop["apiKey"]).status_code == 401
    again = studio.client.put(hook, json={"webhookUrl": "http://127.0.0.1:9/hooks"}, headers=csrf)
    assert again.status_code == 409
    # A key manages its account's keys too: the same public API as the page's.
    by_key = studio.post("/me/api-keys", json={"name": "ci"})
    assert by_key.status_code == 200 and by_key.json()["api_key"]["name"] == "ci"


def test_a_new_keys_answer_is_never_kept_for_an_idempotent_replay(studio: Api) -> None:
    headers = {**studio.headers(), "idempotency-key": "k-1"}
    sent = [studio.client.post(f"{BASE}/me/api-keys", json={"name": "ci"}, headers=headers) for _ in range(2)]
    issued = [response.json()["api_key"]["apiKey"] for response in sent]
    assert len(set(issued)) == 2  # two keys: the answer was not kept to be replayed
    with studio.ctx.db.read() as session:
        kept = session.scalars(select(IdempotencyRecord.response_body)).all()
    assert not any(key in (body or "") for body in kept for key in issued)
