"""The official ``openai`` package, unchanged, against the in-process app (API + worker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from openai import OpenAI

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings
from tests.api.sdk import _TestClientTransport

# OpenAI's names stand for the tiny models here.
TINY_ALIASES = {"dall-e-2": "tiny-sd15", "dall-e-3": "tiny-sdxl", "gpt-image-1": "tiny-sdxl"}


def openai_for(api: Api, key: str | None = None) -> OpenAI:
    """The SDK as a user builds it (``base_url`` …/v1), its HTTP handed to the TestClient."""
    http = httpx.Client(transport=_TestClientTransport(api))
    return OpenAI(base_url="http://testserver/v1", api_key=key or api.key, http_client=http, max_retries=0)


def start(database_url: str, tmp_path: Path, models_dir: Path, *, with_worker: bool = True,
          **overrides: object) -> Iterator[Api]:  # fmt: skip
    settings = make_settings(database_url, tmp_path, models_dir, openai_models=TINY_ALIASES, **overrides)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx, with_worker=with_worker)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


@pytest.fixture
def oapi(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    yield from start(database_url, tmp_path, models_dir)


@pytest.fixture
def client(oapi: Api) -> OpenAI:
    return openai_for(oapi)
