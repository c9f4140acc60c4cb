"""An in-process sfumato (API + worker thread) behind FastAPI's TestClient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.config import Settings
from sfumato.runtime import build_context
from sfumato.service.context import Context
from sfumato.service.keys import issue_key

BASE = "/api/rest/v1"


@dataclass
class Api:
    client: TestClient
    ctx: Context
    key: str
    user_id: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.key}"}

    def post(self, path: str, json: Any = None, key: str | None = None, **kw: Any) -> Any:
        return self.client.post(BASE + path, json=json, headers=self.headers(key), **kw)

    def get(self, path: str, key: str | None = None, **kw: Any) -> Any:
        return self.client.get(BASE + path, headers=self.headers(key), **kw)

    def delete(self, path: str, key: str | None = None) -> Any:
        return self.client.delete(BASE + path, headers=self.headers(key))

    def new_key(self, username: str, credits: int | None = None) -> tuple[str, str]:
        issued = issue_key(self.ctx, username=username, credits_amount=credits)
        return issued.api_key, issued.user_id

    def generate(self, key: str | None = None, **body: Any) -> str:
        body = {"modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1,
                "num_inference_steps": 10, "prompt": "a red fox", **body}  # fmt: skip
        response = self.post("/generations", json=body, key=key)
        assert response.status_code == 200, response.text
        return str(response.json()["sdGenerationJob"]["generationId"])

    def wait(self, generation_id: str, key: str | None = None, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            generation = self.get(f"/generations/{generation_id}", key=key).json()["generations_by_pk"]
            if generation["status"] != "PENDING":
                return dict(generation)
            time.sleep(0.05)
        raise AssertionError(f"generation {generation_id} still PENDING after {timeout}s")


def make_settings(database_url: str, tmp_path: Path, models_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        models_dir=models_dir,
        device="cpu",
        poll_seconds=0.05,
        public_url="http://testserver",
        **overrides,
    )


@pytest.fixture
def api(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, models_dir)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)


@pytest.fixture
def backend_api(
    database_url: str, tmp_path: Path, models_dir: Path, blob_backend: dict[str, str]
) -> Iterator[Api]:
    """``api`` on each blob backend: the local directory and an S3 bucket (moto)."""
    overrides = {
        name.removeprefix("SFUMATO_").lower(): value
        for name, value in blob_backend.items()
        if name.startswith("SFUMATO_")
    }
    settings = make_settings(database_url, tmp_path, models_dir, **overrides)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
