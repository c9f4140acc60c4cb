"""Answers recorded while the documentation's examples run: the first successful JSON answer
of each operation becomes that operation's example in the served OpenAPI document
(``src/sfumato/api/openapi_examples.json``), so the examples there come from real runs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sfumato.api.openapi_doc import EXAMPLES

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_SIGNED = re.compile(r"\?(expires|X-Amz)[^\"\s]*")
PLACEHOLDER_ID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
PREFIXES = ("/api/rest/v1/", "/v1/")


class Recorder:
    """ASGI middleware keeping, per ``METHOD /template``, the first 2xx JSON body (the first
    that shows a finished job, once one does: a poll's last answer rather than its first)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.examples: dict[str, Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        status: list[int] = []
        json_body: list[bool] = []
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                headers = dict(message.get("headers", []))
                json_body.append(headers.get(b"content-type", b"").startswith(b"application/json"))
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, keep)
        route = scope.get("route")
        if route is None or not status or not 200 <= status[0] < 300 or not json_body[0]:
            return
        prefix = next(p.rstrip("/") for p in PREFIXES if scope["path"].startswith(p))
        template = route.path_format if route.path_format.startswith(prefix) else prefix + route.path_format
        operation = f"{scope['method']} {template}"
        body = b"".join(chunks)
        kept = self.examples.get(operation)
        if kept is None or (b'"COMPLETE"' in body and '"COMPLETE"' not in json.dumps(kept)):
            try:
                self.examples[operation] = json.loads(body)
            except ValueError:
                return


def tidy(value: Any, origin: str) -> Any:
    """An answer fit to show: ids, origins and signatures made stable, lists and long texts cut."""
    if isinstance(value, dict):
        return {key: tidy(item, origin) for key, item in value.items()}
    if isinstance(value, list):
        return [tidy(item, origin) for item in value[:2]]
    if isinstance(value, str):
        text = _SIGNED.sub("?…", _UUID.sub(PLACEHOLDER_ID, value.replace(origin, "http://127.0.0.1:8000")))
        return text if len(text) <= 160 else text[:60] + "…"
    return value


def write(examples: dict[str, Any], origin: str, path: Path = EXAMPLES) -> None:
    tidied = {operation: tidy(body, origin) for operation, body in sorted(examples.items())}  # idempotent
    path.write_text(json.dumps(tidied, indent=1, ensure_ascii=False) + "\n")
