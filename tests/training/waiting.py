"""Waiting for a training as a client does: polling its resource until it leaves PENDING."""

from __future__ import annotations

import time
from typing import Any

from tests.api.conftest import Api


def wait_trained(
    api: Api, path: str, wire_key: str, key: str | None = None, timeout: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = api.get(path, key=key)
        assert response.status_code == 200, response.text
        row = response.json()[wire_key]
        if row["status"] != "PENDING":
            return dict(row)
        time.sleep(0.1)
    raise AssertionError(f"{path} still PENDING after {timeout}s")
