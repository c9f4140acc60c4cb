"""A lean path for the requests a busy server receives most: ``POST /generations`` and the
realtime canvas, whose caller waits for the picture.

Through the framework, a route's parameters are solved per request (the context, the caller
and its rate limits, the body, the response for headers), the body is parsed into Python
objects and then validated, and the answer goes through a response class and its encoder:
together more CPU than a submission's own work, and on the canvas, time its caller waits.
This middleware, the innermost, serves the request that is plainly well formed — a JSON body
that the route's body model accepts, from a caller the auth gate already knows — with the
same steps in place: the same rate limits, the same service call (admission and all its
controls), the same answer, the same error envelope. Anything else (a body that does not
validate, another content type, a caller that is not yet known) goes to the route as before,
with the body handed on, so every refusal is worded by one piece of code. The routes stay
the documented endpoints; past validation both ways call the same function (a
:class:`LeanRoute`'s ``serve``), which counts, serves and answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from sfumato.api.answer import Answer
from sfumato.api.asgi import header, read_body, replaying
from sfumato.api.auth_gate import ENDPOINT, PRINCIPAL
from sfumato.api.errors import error_response_at
from sfumato.errors import SfumatoError
from sfumato.observability.logs import bind
from sfumato.service.context import Context
from sfumato.service.keys import Principal


@dataclass(frozen=True, slots=True)
class LeanRoute:
    """A route's body model, and what serves a body it accepted (as the route itself does)."""

    body: type[BaseModel]
    serve: Callable[[Context, Principal, Any, Scope], Awaitable[Answer]]


class LeanPathMiddleware:
    def __init__(self, app: ASGIApp, *, prefix: str, routes: Mapping[str, LeanRoute]) -> None:
        self.app = app
        self.routes = {prefix + path: (path, route) for path, route in routes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get(PRINCIPAL)
        found = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if (
            found is None
            or scope["method"] != "POST"
            or principal is None
            or not _json(header(scope, b"content-type"))
        ):
            await self.app(scope, receive, send)
            return
        template, route = found
        body = await read_body(receive)
        try:
            request = route.body.model_validate_json(body)
        except ValidationError:
            await self.app(scope, replaying(body, receive), send)  # the route words the refusal
            return
        scope[ENDPOINT] = template  # what the request log names
        ctx: Context = scope["app"].state.context
        bind(account_id=principal.account_id)
        try:
            answer = await route.serve(ctx, principal, request, scope)
        except SfumatoError as exc:
            await error_response_at(scope["path"], exc)(scope, receive, send)
            return
        await answer.send(send)


def _json(content_type: str | None) -> bool:
    return content_type is not None and content_type.split(";", 1)[0].strip().lower() == "application/json"
