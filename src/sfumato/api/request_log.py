"""One log line and one latency observation per HTTP request, with a request id.

The request id comes from the client's ``X-Request-ID`` when it is a sane token, else a
new one; either way it is echoed in the response and bound to every line logged while
the request runs. The line names the route template (``/generations/{generation_id}``),
never headers or bodies.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sfumato.api.asgi import header
from sfumato.api.auth_gate import ENDPOINT
from sfumato.observability.logs import bound
from sfumato.observability.metrics import observe_request

log = logging.getLogger("sfumato.requests")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET = {"/healthz", "/readyz", "/metrics"}  # probes and scrapes log at debug level


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = header(scope, b"x-request-id") or ""
        request_id = offered if _REQUEST_ID.match(offered) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode())]}  # fmt: skip
            await send(message)

        with bound(request_id=request_id) as fields:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._record(scope, fields, status, time.perf_counter() - started)

    def _record(self, scope: Scope, fields: dict[str, str], status: int, seconds: float) -> None:
        route = scope.get("route")
        endpoint = scope.get(ENDPOINT) or getattr(route, "path", None) or "unmatched"
        path_params = scope.get("path_params") or {}
        method = scope["method"]
        observe_request(method, endpoint, status, seconds)
        log.log(
            logging.DEBUG if endpoint in QUIET else logging.INFO,
            "%s %s %d",
            method,
            endpoint,
            status,
            extra={
                "method": method,
                "endpoint": endpoint,
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
                "generation_id": path_params.get("generation_id") or fields.get("generation_id"),
            },
        )
