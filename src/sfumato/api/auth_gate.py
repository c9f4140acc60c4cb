"""The API key is checked before the request body is read.

A route's dependencies run only after the framework has read and parsed the body, so a
caller without a valid key could make the server buffer any amount of JSON before its
401. This middleware answers that 401 from the headers alone, with the same key check
(:func:`sfumato.service.keys.authenticate`, cache first), and leaves the principal in
the scope for :func:`sfumato.api.deps.get_principal` and the idempotency middleware.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from sfumato.api.asgi import header
from sfumato.api.errors import error_response
from sfumato.errors import Unauthorized
from sfumato.service.context import Context
from sfumato.service.keys import authenticate, recently_authenticated

PRINCIPAL = "sfumato.principal"  # scope key of the authenticated caller


class AuthGateMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        ctx: Context = scope["app"].state.context
        authorization = header(scope, b"authorization")
        principal = recently_authenticated(ctx, authorization)
        if principal is None:
            try:
                principal = await run_in_threadpool(authenticate, ctx, authorization)
            except Unauthorized as exc:
                response = error_response(exc)
                response.headers["connection"] = "close"  # the unread body is not worth draining
                await response(scope, receive, send)
                return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)
