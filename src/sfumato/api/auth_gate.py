"""The API key is checked before the request body is read.

A route's dependencies run only after the framework has read and parsed the body, so a
caller without a valid key could make the server buffer any amount of JSON before its
401. This middleware answers that 401 from the headers alone, with the same check of the
key, or of the studio's session cookie and CSRF token (:mod:`sfumato.api.credentials`),
and leaves the principal in the scope for :func:`sfumato.api.deps.get_principal` and the
idempotency middleware.
"""

from __future__ import annotations

import re

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from sfumato.api.credentials import principal_of
from sfumato.api.errors import error_response_at
from sfumato.errors import Forbidden, Unauthorized
from sfumato.service.context import Context

PRINCIPAL = "sfumato.principal"  # scope key of the authenticated caller
ENDPOINT = "sfumato.endpoint"  # scope key of the route template of a request answered before routing


class AuthGateMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self._templates: list[tuple[re.Pattern[str], str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        ctx: Context = scope["app"].state.context
        try:
            principal = await principal_of(ctx, scope)
        except (Unauthorized, Forbidden) as exc:
            scope[ENDPOINT] = self._endpoint_of(scope)  # so the request's log line names its route
            response = error_response_at(scope["path"], exc)
            response.headers["connection"] = "close"  # the unread body is not worth draining
            await response(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)

    def _endpoint_of(self, scope: Scope) -> str | None:
        """The template of the API route a refused request was for (looked up for refusals only)."""
        if self._templates is None:
            paths = scope["app"].openapi().get("paths", {})
            self._templates = [
                (compile_path(path)[0], path.removeprefix(self.prefix))
                for path in paths
                if path.startswith(self.prefix)
            ]
        return next((template for regex, template in self._templates if regex.match(scope["path"])), None)
