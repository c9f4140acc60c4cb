"""Request bodies bounded per route: over the limit is a 413, and nothing of it is buffered.

A declared ``Content-Length`` over the route's limit is refused before a byte is read. A
body without one (chunked) is counted as it streams and cut off at the limit: the read
fails, whatever the application answered to that failure is dropped, and the 413 goes
out instead. The server frames a body by its ``Content-Length``, so a request declaring
one within the limit passes untouched, as does one with neither header (it has no body):
the common cases cost a header look-up or two.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sfumato.api.asgi import header
from sfumato.api.errors import error_response_at
from sfumato.errors import PayloadTooLarge


class BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes its route's limit."""


class BodyLimitMiddleware:
    """``default`` bytes for every route, except those ``routes`` names (exact paths).

    A route mapped to ``None`` bounds its own body (the presigned upload form does).
    """

    def __init__(self, app: ASGIApp, *, default: int, routes: Mapping[str, int | None]) -> None:
        self.app = app
        self.default = default
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.routes.get(scope["path"], self.default)
        if limit is None:
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit:
                await _refuse(scope, receive, send, limit)
            else:
                await self.app(scope, receive, send)
            return
        if declared is None and header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body at all (a GET): nothing to count
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        refused = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    raise BodyTooLarge(f"more than {limit} bytes")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused and not started:
                return  # the application's answer to a read that failed: the 413 replaces it
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused or started:
                raise
        if refused and not started:
            await _refuse(scope, receive, send, limit)


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = error_response_at(
        scope["path"], PayloadTooLarge(f"The request body is larger than {limit} bytes")
    )
    response.headers["connection"] = "close"  # the rest of the body is not read
    await response(scope, receive, send)
