"""Structured logs: every line JSON, tied to its request, account and generation; no keys, no prompts."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from sfumato.observability.logs import configure, redact
from tests.api.conftest import Api

PROMPT = "a violet giraffe reading a newspaper"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure(fmt="json", level="INFO", stream=stream)
    yield stream
    configure(sensitive_fields=False, stream=io.StringIO())
    root.handlers[:] = handlers
    root.setLevel(level)


def _parse(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_request_lines_carry_ids_and_never_keys_or_prompts(api: Api, log_lines: io.StringIO) -> None:
    response = api.client.post(
        "/api/rest/v1/generations",
        json={"prompt": PROMPT, "modelId": "tiny-sd15", "width": 64, "height": 64, "num_images": 1},
        headers={**api.headers(), "X-Request-ID": "req-123"},
    )
    assert response.headers["x-request-id"] == "req-123"
    generation_id = response.json()["sdGenerationJob"]["generationId"]
    api.wait(generation_id)
    assert len(api.get("/me").headers["x-request-id"]) == 32  # made up when the client sends none

    text = log_lines.getvalue()
    lines = _parse(log_lines)  # every line is JSON
    request = next(
        line for line in lines if line.get("endpoint") == "/generations" and line["method"] == "POST"
    )
    assert request["status"] == 200 and request["request_id"] == "req-123"
    assert request["account_id"] == api.user_id and request["generation_id"] == generation_id
    assert isinstance(request["latency_ms"], float)
    queued = next(line for line in lines if line["msg"] == "generation queued")
    assert queued["request_id"] == "req-123" and queued["account_id"] == api.user_id
    assert queued["generation_id"] == generation_id and "prompt" not in queued
    ended = next(line for line in lines if line["logger"] == "sfumato.jobs")
    assert ended["generation_id"] == generation_id and ended["outcome"] == "succeeded"
    polled = [line for line in lines if line.get("endpoint") == "/generations/{generation_id}"]
    assert polled and all(line["generation_id"] == generation_id for line in polled)
    assert api.key not in text and "Bearer" not in text and "authorization" not in text.lower()
    assert PROMPT not in text


def test_debug_logging_may_show_prompts_but_never_keys(api: Api, log_lines: io.StringIO) -> None:
    configure(fmt="json", level="INFO", sensitive_fields=True, stream=log_lines)
    try:
        api.generate(prompt=PROMPT)
    finally:
        configure(fmt="json", level="INFO", sensitive_fields=False, stream=log_lines)
    queued = next(line for line in _parse(log_lines) if line["msg"] == "generation queued")
    assert queued["prompt"] == PROMPT
    assert api.key not in log_lines.getvalue()


def test_anything_shaped_like_a_secret_is_masked() -> None:
    line = "auth Authorization: Bearer abc.def-123 key sfu_Zx8u3kLmN0pQ_rs and whsec_QUJDREVGR0hJSktM=="
    masked = redact(line)
    assert "abc.def-123" not in masked and "Zx8u3kLmN0pQ" not in masked and "QUJDREVGR0hJSktM" not in masked
    assert masked.count("[redacted]") == 3


def test_unauthenticated_and_failed_requests_are_logged_too(api: Api, log_lines: io.StringIO) -> None:
    api.client.get("/api/rest/v1/me", headers={"authorization": "Bearer sfu_not-a-real-key-at-all"})
    api.get("/generations/does-not-exist")
    lines = _parse(log_lines)
    statuses = {(line.get("endpoint"), line.get("status")) for line in lines}
    assert ("/me", 401) in statuses and ("/generations/{generation_id}", 404) in statuses
    assert "sfu_not-a-real-key" not in log_lines.getvalue()
