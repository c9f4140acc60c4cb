"""An in-process sfumato whose webhook sender retries fast and may reach loopback receivers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sfumato.app import create_app
from sfumato.runtime import build_context
from sfumato.service.keys import issue_key
from tests.api.conftest import Api, make_settings

FAST_WEBHOOKS = {
    "webhook_allow_hosts": "127.0.0.1/32",
    "webhook_backoff_seconds": 0.1,
    "webhook_backoff_max_seconds": 0.4,
    "webhook_poll_seconds": 0.05,
    "webhook_timeout_seconds": 3.0,
}


@pytest.fixture
def hooks(database_url: str, tmp_path: Path, models_dir: Path) -> Iterator[Api]:
    settings = make_settings(database_url, tmp_path, models_dir, **FAST_WEBHOOKS)
    ctx = build_context(settings)
    with TestClient(create_app(settings, context=ctx)) as client:
        issued = issue_key(ctx, username="alice")
        yield Api(client=client, ctx=ctx, key=issued.api_key, user_id=issued.user_id)
